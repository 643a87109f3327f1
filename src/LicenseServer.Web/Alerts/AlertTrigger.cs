using System.Collections.Concurrent;
using System.Threading.Channels;
using LicenseServer.Core.Alerts;

namespace LicenseServer.Web.Alerts;

/// <summary>A product whose usage may deserve an alert; the refusal code when a seat was refused.</summary>
public sealed record AlertCheck(long OrganizationId, string Product, AlertEvent Event, string? RefusalCode);

/// <summary>
/// Usage alerts, on the hot path: a checkout or grant only tells this class which product changed, and returns.
/// No database round trip and no waiting here: the <see cref="AlertDispatcher"/> reads the settings,
/// counts the seats, claims the hourly alert in the database and delivers it in the background.
/// Two in-memory guards keep even that background work small: a product alerted within the hour (seen
/// by this node) is skipped until the hour is over, and a product already waiting is not queued twice,
/// so a burst of checkouts costs one check. The guards are only an optimisation: the database claim is
/// what makes an alert once an hour across nodes.
/// </summary>
public sealed class AlertTrigger(TimeProvider clock)
{
    private readonly ConcurrentDictionary<(long, string), DateTimeOffset> _quietUntil = new();
    private readonly ConcurrentDictionary<(long, string), AlertCheck> _pending = new();
    private readonly Channel<(long, string)> _queue = Channel.CreateUnbounded<(long, string)>(new UnboundedChannelOptions { SingleReader = true });
    private int _busy;

    /// <summary>Seats were taken: alert if the product's usage reached its threshold.</summary>
    public void SeatsTaken(long organizationId, string product) => Raise(new AlertCheck(organizationId, product, AlertEvent.UsageThreshold, null));

    /// <summary>A seat was refused: alert about it.</summary>
    public void SeatRefused(long organizationId, string product, string code) => Raise(new AlertCheck(organizationId, product, AlertEvent.SeatRefused, code));

    private void Raise(AlertCheck check)
    {
        var key = (check.OrganizationId, check.Product);
        if (_quietUntil.TryGetValue(key, out var until) && clock.GetUtcNow() < until) return;
        while (true)
        {
            if (_pending.TryAdd(key, check))
            {
                Interlocked.Increment(ref _busy);
                _queue.Writer.TryWrite(key);
                return;
            }
            if (!_pending.TryGetValue(key, out var waiting)) continue; // just taken by the dispatcher: queue it again
            // The check already waiting covers this one, unless this is a refusal and that is not.
            if (waiting.Event == AlertEvent.SeatRefused || check.Event != AlertEvent.SeatRefused) return;
            if (_pending.TryUpdate(key, check, waiting)) return;
        }
    }

    /// <summary>The next product to check, for the dispatcher.</summary>
    internal async ValueTask<AlertCheck?> NextAsync(CancellationToken cancel)
    {
        var key = await _queue.Reader.ReadAsync(cancel);
        return _pending.TryRemove(key, out var check) ? check : null;
    }

    /// <summary>This node knows the product was alerted and stays quiet until <paramref name="until"/>.</summary>
    internal void QuietUntil(long organizationId, string product, DateTimeOffset until) => _quietUntil[(organizationId, product)] = until;

    internal void Begin() => Interlocked.Increment(ref _busy);
    internal void Done() => Interlocked.Decrement(ref _busy);

    /// <summary>
    /// Waits until every queued check and every delivery has finished, or <paramref name="timeout"/>
    /// has passed (false). Tests use it to know that nothing more will be sent.
    /// </summary>
    public async Task<bool> WaitIdleAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Volatile.Read(ref _busy) > 0)
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(20);
        }
        return true;
    }
}
