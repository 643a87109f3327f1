using LicenseServer.Core.Licenses;

namespace LicenseServer.Client;

/// <summary>
/// A checked-out floating seat, held as long as its latest verified grant runs. It heartbeats on a
/// timer at the interval the server asks for, and is released when disposed. <see cref="Lost"/> is set
/// when a heartbeat is refused (session_expired) or answers no valid grant (grant_invalid).
/// </summary>
public sealed class FloatingSession : IAsyncDisposable
{
    private readonly KitClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _heartbeats;
    private int _disposed;

    internal FloatingSession(KitClient client, FloatingGrantPayload grant, TimeSpan interval, bool autoHeartbeat)
    {
        _client = client;
        Grant = grant;
        HeartbeatInterval = interval;
        _heartbeats = autoHeartbeat ? HeartbeatLoopAsync() : Task.CompletedTask;
    }

    public Guid Id => Grant.SessionId;
    public TimeSpan HeartbeatInterval { get; }

    /// <summary>The latest grant, verified with the vendor key.</summary>
    public FloatingGrantPayload Grant { get; private set; }

    /// <summary>Until when the seat is held without a further heartbeat: the latest grant's end.</summary>
    public DateTimeOffset ExpiresAt => Grant.ExpiresAt;
    public KitApiException? Lost { get; private set; }

    public async Task HeartbeatAsync(CancellationToken cancel = default) => Grant = await _client.HeartbeatAsync(Grant, cancel);

    private async Task HeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                try
                {
                    await HeartbeatAsync(_stop.Token);
                }
                catch (KitApiException e) when (e.Code is "session_expired" or "grant_invalid")
                {
                    Lost = e;
                    return;
                }
                catch (Exception e) when (e is HttpRequestException or KitApiException or TaskCanceledException && !_stop.IsCancellationRequested)
                {
                    // A missed beat is retried at the next tick; the lease's grace period covers short outages.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops the heartbeats and releases the seat; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stop.CancelAsync();
        await _heartbeats;
        _stop.Dispose();
        try
        {
            await _client.ReleaseAsync(Id);
        }
        catch (Exception e) when (e is HttpRequestException or KitApiException or TaskCanceledException)
        {
            // The server frees the seat when the lease runs out.
        }
    }
}
