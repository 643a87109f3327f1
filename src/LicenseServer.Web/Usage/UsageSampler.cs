using LicenseServer.Data.Usage;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Usage;

/// <summary>
/// Samples every organization's seats in use every <c>Kit:Usage:SampleSeconds</c>. Each node runs
/// one; samples are keyed by their time bucket, so several nodes write one row per bucket between them.
/// </summary>
public sealed class UsageSampler(UsageRepository usage, KitOptions options, TimeProvider clock, ILogger<UsageSampler> logger) : BackgroundService
{
    private static readonly TimeSpan PurgeEvery = TimeSpan.FromHours(1);
    private DateTimeOffset _lastPurge = DateTimeOffset.MinValue;

    public TimeSpan Interval => TimeSpan.FromSeconds(Math.Max(1, options.Usage.SampleSeconds));

    /// <summary>The start of the bucket <paramref name="at"/> falls in: every node agrees on it.</summary>
    public static DateTimeOffset Bucket(DateTimeOffset at, TimeSpan interval) =>
        new(at.UtcTicks - at.UtcTicks % interval.Ticks, TimeSpan.Zero);

    /// <summary>Takes a sample now (the timer calls it; so can a test). Returns how many rows were written.</summary>
    public Task<int> SampleNowAsync()
    {
        var now = clock.GetUtcNow();
        return usage.SampleAsync(Bucket(now, Interval), now);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SampleNowAsync();
                var now = clock.GetUtcNow();
                if (now - _lastPurge >= PurgeEvery)
                {
                    _lastPurge = now;
                    await usage.PurgeAsync(now.AddDays(-Math.Max(1, options.Usage.RetentionDays)));
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A database that is briefly away costs one sample, not the sampler.
                logger.LogWarning("Usage sample failed: {Reason}", e.Message);
            }
        }
    }
}
