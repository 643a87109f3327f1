using System.Diagnostics;
using System.Diagnostics.Metrics;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// The server's own instruments, on the meter <see cref="MeterName"/>: the request latency histogram, the checkout
/// counters and the process's figures. /metrics exports them with the .NET runtime's and ASP.NET Core's meters
/// (<see cref="MetricsEndpoint"/>); the seat gauges, read from the database at each scrape, are <see cref="SeatGauges"/>.
/// </summary>
public sealed class KitMetrics
{
    public const string MeterName = "LicenseServer";

    /// <summary>The latency buckets' upper bounds in seconds, from a 1 ms heartbeat to a 10 s plugin upload.</summary>
    public static readonly double[] LatencyBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Histogram<double> _requestDuration;

    public KitMetrics(IMeterFactory meters, CheckoutCounters checkouts, SeatGauges seats)
    {
        var meter = meters.Create(MeterName);
        _requestDuration = meter.CreateHistogram("kit_http_request_duration_seconds", "s",
            "Time this node took to answer HTTP requests, in seconds, by route template, method and status class; per node.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBounds });

        meter.CreateObservableCounter("kit_checkouts_granted", () => checkouts.GrantedCount, null,
            "Floating checkouts (POST /api/v1/sessions) this node granted since it started; per node: add the nodes up.");
        meter.CreateObservableCounter("kit_checkouts_refused",
            () => checkouts.RefusedCounts().Select(c => new Measurement<long>(c.Count, new KeyValuePair<string, object?>("code", c.Code))), null,
            "Floating checkouts this node refused since it started, by the problem code of the answer (error: failed unexpectedly); per node.");

        meter.CreateObservableGauge("kit_build_info", () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", ServerHost.Version)), null,
            "The server's version; always 1.");
        double started;
        using (var process = Process.GetCurrentProcess())
            started = new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        meter.CreateObservableCounter("process_cpu_seconds", () => Environment.CpuUsage.TotalTime.TotalSeconds, "s",
            "CPU time this node's process has used, in seconds.");
        meter.CreateObservableGauge("process_resident_memory_bytes", () => Environment.WorkingSet, "By",
            "Resident memory of this node's process, in bytes.");
        meter.CreateObservableGauge("process_start_time_seconds", () => started, "s",
            "When this node's process started, in Unix seconds.");
        // A node compiles its hot code again, optimized, in its first minutes under load: until this and the runtime's
        // dotnet_jit_compiled_methods_total stop growing, its CPU figures are not yet those of the steady state.
        meter.CreateObservableCounter("dotnet_jit_compilation_seconds", () => System.Runtime.JitInfo.GetCompilationTime().TotalSeconds, "s",
            "Time this node's process has spent in the .NET JIT compiler, in seconds (the runtime's dotnet_jit_compilation_time_seconds_total, by its earlier name).");

        seats.CreateGauges(meter);
    }

    /// <summary>One answered request: its route template (or "unmatched"), method, status and time in seconds.</summary>
    public void RequestAnswered(string route, string method, int status, double seconds)
    {
        var tags = new TagList { { "route", route }, { "method", method }, { "status", StatusClasses[Math.Clamp(status / 100, 1, 5) - 1] } };
        _requestDuration.Record(seconds, tags);
    }

    private static readonly string[] StatusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"];
}
