using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Settings;

namespace LicenseServer.Web.Activation;

/// <summary>The server's clock is behind the latest time it has seen: since when, and by how much.</summary>
public sealed record ClockBehind(DateTimeOffset Now, DateTimeOffset HighWater, DateTimeOffset Since)
{
    public string Message =>
        $"The server's clock reads {LicenseVerifier.Format(Now)}, more than {ClockGuard.Tolerance.TotalHours:0} hours behind {LicenseVerifier.Format(HighWater)}, " +
        $"the latest time this server has seen (noticed {LicenseVerifier.Format(Since)}). Checkouts, activations, renewals and offline licenses are refused " +
        "until the server's date and time are corrected.";
}

/// <summary>
/// Clock roll-back: a license that ended stays ended when the clock is set back. The latest time any node's
/// clock has shown is kept in the database (raised at most once a minute by each node, never lowered) and in
/// each node's memory (raised at every check); a clock more than <see cref="Tolerance"/> behind it refuses what
/// hands out seats and signed files, with <c>clock_tampering</c>. The check reads memory only: it is on the
/// client API's hot paths.
/// </summary>
public sealed class ClockGuard(ServerSettingsRepository settings, TimeProvider clock, ILogger<ClockGuard> logger) : BackgroundService
{
    /// <summary>How far behind the mark a clock may be: time zones, daylight saving and NTP corrections stay well within it.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromHours(24);

    public static readonly TimeSpan SyncEvery = TimeSpan.FromMinutes(1);

    /// <summary>The mark in UTC ticks; 0 until the first check or sync.</summary>
    private long _highWaterTicks;
    private DateTimeOffset? _behindSince;

    /// <summary>Null while the clock is fine.</summary>
    public ClockBehind? Behind()
    {
        var now = clock.GetUtcNow();
        var mark = Raise(now.UtcTicks);
        if (now.UtcTicks >= mark - Tolerance.Ticks) return null;
        return new ClockBehind(now, new DateTimeOffset(mark, TimeSpan.Zero), _behindSince ?? now);
    }

    /// <summary>Raises the mark in memory to <paramref name="ticks"/> if that is later; answers the mark.</summary>
    private long Raise(long ticks)
    {
        var mark = Interlocked.Read(ref _highWaterTicks);
        while (ticks > mark)
        {
            var seen = Interlocked.CompareExchange(ref _highWaterTicks, ticks, mark);
            if (seen == mark) return ticks;
            mark = seen;
        }
        return mark;
    }

    /// <summary>Throws <c>clock_tampering</c> when the clock is more than a day behind the mark.</summary>
    public void Require()
    {
        if (Behind() is { } behind) throw new LicenseRuleException("clock_tampering", behind.Message);
    }

    /// <summary>Raises the shared mark to this node's clock if it is later, and reads it back (the timer calls it; so can a test).</summary>
    public async Task SyncAsync()
    {
        var now = clock.GetUtcNow();
        // This node's own mark may be ahead of the database's: it is written, and the later of both kept.
        Raise(now.UtcTicks);
        Raise((await settings.RaiseClockHighWaterAsync(new DateTimeOffset(Interlocked.Read(ref _highWaterTicks), TimeSpan.Zero))).UtcTicks);
        var behind = Behind();
        if (behind is not null && _behindSince is null)
        {
            _behindSince = behind.Now;
            logger.LogWarning("{Message}", behind.Message);
        }
        else if (behind is null && _behindSince is not null)
        {
            _behindSince = null;
            logger.LogInformation("The server's clock is within {Hours} hours of the latest time seen again; checkouts and activations are served", Tolerance.TotalHours);
        }
    }

    /// <summary>The mark is read before the server serves anything, so a node started with its clock set back refuses from its first request.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await TrySyncAsync();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SyncEvery, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken)) await TrySyncAsync();
    }

    private async Task TrySyncAsync()
    {
        try
        {
            await SyncAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A database that is briefly away delays the mark by a minute; the last one read still guards.
            logger.LogWarning("Reading the clock's high-water mark failed: {Reason}", e.Message);
        }
    }
}
