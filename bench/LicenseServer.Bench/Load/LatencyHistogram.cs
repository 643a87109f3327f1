using System.Numerics;

namespace LicenseServer.Bench.Load;

/// <summary>
/// Latencies in microseconds, in HdrHistogram-like log-linear buckets: exact below 2 ms, then 1,024 buckets per
/// power of two (under 0.1 % error) up to about 70 minutes. One per client, so recording is one increment
/// with no lock and no allocation; the clients' histograms are merged when a phase ends.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Linear = 2048;
    private const int SubBuckets = 1024;
    private const int MaxExponent = 31;
    private readonly long[] _counts = new long[Linear + (MaxExponent - 10) * SubBuckets];

    public long Count { get; private set; }
    public long MaxMicroseconds { get; private set; }

    public void Record(long microseconds)
    {
        microseconds = Math.Clamp(microseconds, 0, (1L << MaxExponent) - 1);
        _counts[Index(microseconds)]++;
        Count++;
        if (microseconds > MaxMicroseconds) MaxMicroseconds = microseconds;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        MaxMicroseconds = Math.Max(MaxMicroseconds, other.MaxMicroseconds);
    }

    /// <summary>The latency at or below which <paramref name="percentile"/> % of the requests finished (the bucket's upper edge).</summary>
    public double PercentileMilliseconds(double percentile)
    {
        if (Count == 0) return 0;
        var rank = (long)Math.Ceiling(percentile / 100 * Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Min(UpperEdge(i), MaxMicroseconds) / 1000.0;
        }
        return MaxMicroseconds / 1000.0;
    }

    private static int Index(long us)
    {
        if (us < Linear) return (int)us;
        var exponent = 63 - BitOperations.LeadingZeroCount((ulong)us); // 11 or more
        var sub = (int)(us >> (exponent - 10)) & (SubBuckets - 1);
        return Linear + (exponent - 11) * SubBuckets + sub;
    }

    private static long UpperEdge(int index)
    {
        if (index < Linear) return index;
        var exponent = (index - Linear) / SubBuckets + 11;
        var sub = (index - Linear) % SubBuckets;
        var width = 1L << (exponent - 10);
        return (1L << exponent) + (sub + 1) * width - 1;
    }
}
