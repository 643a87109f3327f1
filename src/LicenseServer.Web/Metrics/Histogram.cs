using System.Diagnostics;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// A latency histogram with fixed buckets that requests write without a lock: one interlocked add to
/// their bucket and one to the sum. Buckets are kept per bucket and made cumulative when scraped.
/// </summary>
public sealed class Histogram
{
    /// <summary>Upper bounds in seconds, from a 1 ms heartbeat to a 10 s plugin upload.</summary>
    public static readonly double[] Bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly long[] BoundTicks = Array.ConvertAll(Bounds, b => (long)Math.Round(b * Stopwatch.Frequency));

    // One slot per bound plus the last for everything above the largest (+Inf).
    private readonly long[] _counts = new long[Bounds.Length + 1];
    private long _sumTicks;

    /// <param name="elapsedTicks">Stopwatch ticks.</param>
    public void Observe(long elapsedTicks)
    {
        var i = 0;
        while (i < BoundTicks.Length && elapsedTicks > BoundTicks[i]) i++;
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumTicks, elapsedTicks);
    }

    /// <summary>Cumulative counts per bound and +Inf last; the count is the +Inf bucket, so the two always agree.</summary>
    public (long[] Cumulative, double SumSeconds) Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long total = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            total += Volatile.Read(ref _counts[i]);
            cumulative[i] = total;
        }
        return (cumulative, (double)Volatile.Read(ref _sumTicks) / Stopwatch.Frequency);
    }
}
