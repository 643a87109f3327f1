using System.Diagnostics;

namespace LicenseServer.Bench.Load;

/// <summary>One kind of request in a phase, over the measured window.</summary>
public sealed record OperationStats(long Requests, double Rps, double P50Ms, double P99Ms, double MaxMs, long Errors, IReadOnlyDictionary<string, long> ErrorsByCode);

/// <summary>
/// The measured window of a phase and one client's records in it: a latency histogram per kind of request and
/// the errors by status and code. Requests that start before the window (the warm-up) or end after it are not counted.
/// </summary>
public sealed class PhaseRecorder(long windowStart, long windowEnd, int kinds)
{
    public LatencyHistogram[] Latencies { get; } = Enumerable.Range(0, kinds).Select(_ => new LatencyHistogram()).ToArray();
    public Dictionary<string, long>[] Errors { get; } = Enumerable.Range(0, kinds).Select(_ => new Dictionary<string, long>()).ToArray();

    public long WindowEnd => windowEnd;
    public bool Over => Stopwatch.GetTimestamp() >= windowEnd;

    public void Success(int kind, long started) => Record(kind, started, null);

    public void Failure(int kind, long started, string error) => Record(kind, started, error);

    private void Record(int kind, long started, string? error)
    {
        var ended = Stopwatch.GetTimestamp();
        if (started < windowStart || ended > windowEnd) return;
        if (error is null)
        {
            Latencies[kind].Record((long)Stopwatch.GetElapsedTime(started, ended).TotalMicroseconds);
            return;
        }
        Errors[kind][error] = Errors[kind].GetValueOrDefault(error) + 1;
    }

    public static OperationStats Merge(IReadOnlyList<PhaseRecorder> clients, int kind, double seconds)
    {
        var all = new LatencyHistogram();
        var errors = new Dictionary<string, long>();
        foreach (var client in clients)
        {
            all.Add(client.Latencies[kind]);
            foreach (var (code, count) in client.Errors[kind]) errors[code] = errors.GetValueOrDefault(code) + count;
        }
        return new OperationStats(all.Count, Math.Round(all.Count / seconds, 1), Math.Round(all.PercentileMilliseconds(50), 2),
            Math.Round(all.PercentileMilliseconds(99), 2), Math.Round(all.MaxMicroseconds / 1000.0, 2), errors.Values.Sum(), errors);
    }
}
