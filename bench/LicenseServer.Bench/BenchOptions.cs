using System.CommandLine;
using System.Globalization;
using System.Numerics;

namespace LicenseServer.Bench;

/// <summary>What a run measures, from the command line (<see cref="Command"/>): <c>kit-bench [--smoke] [--seconds N] [--clients N] [--out FILE.json] [--scale N] [--keep-data]</c>.</summary>
public sealed record BenchOptions
{
    public bool Smoke { get; init; }
    /// <summary>Measured seconds per phase (after the warm-up).</summary>
    public double Seconds { get; init; } = 20;
    public double WarmupSeconds { get; init; } = 2;
    /// <summary>At most this much unmeasured load before the first phase, so that the first phases do not pay for the server's JIT alone.</summary>
    public double ServerWarmupSeconds { get; init; } = 42;
    public int Clients { get; init; } = 64;
    public string Out { get; init; } = Path.Combine("bench", "results", "latest.json");
    public int Users { get; init; } = 1000;
    public int Organizations { get; init; } = 10;
    public int Machines { get; init; } = 1000;
    /// <summary>
    /// The floating product's license quota, shared evenly by the organizations: a million seats, or twice the large
    /// scale when that is more, so that the checkouts measured beside the scale's live sessions still find seats free.
    /// </summary>
    public int FloatingQuota => (int)Math.Min(int.MaxValue, Math.Max(1_000_000, 2L * LargeScale));
    /// <summary>The per-user product's license quota: twice the users, so every user holds one.</summary>
    public int PerUserQuota { get; init; } = 2000;
    public int SessionsPerHeartbeatClient { get; init; } = 4;
    public int SmallScale { get; init; } = 100;
    public int LargeScale { get; init; } = 100_000;
    /// <summary>Keep the temporary data directory (the cluster, the server's logs) for inspection.</summary>
    public bool KeepData { get; init; }

    private const string About = """
        kit-bench: the benchmark of the client API's hot paths (floating checkouts, heartbeats, per-user activations)
        against the floor PostgreSQL sets for the same SQL, on a fresh server on the embedded PostgreSQL.
        Exit codes: 0 the bench ran (targets may be MISSED: see the table), 1 the harness failed, 2 usage,
        3 over-allocation: seats in use exceeded a quota at some sample.
        """;

    /// <summary>The command line, whose action runs <paramref name="run"/> with the options given.</summary>
    public static RootCommand Command(Func<BenchOptions, Task<int>> run)
    {
        var smoke = new Option<bool>("--smoke") { Description = "a few seconds per phase, 8 clients, 1,000 sessions for the large scale (the tests run this)" };
        var seconds = Positive(new Option<double>("--seconds") { Description = "measured seconds per phase (default 20; smoke 2)" });
        var warmup = new Option<double>("--warmup") { Description = "seconds of load before each phase is measured (default 2; smoke 0.5)" };
        var clients = Positive(new Option<int>("--clients") { Description = "concurrent HTTP clients, and pgbench clients for the floor (default 64; smoke 8)" });
        var scale = Positive(new Option<int>("--scale") { Description = "live sessions in the database for the large-scale runs (default 100000; smoke 1000)" });
        var output = new Option<string>("--out") { Description = "the JSON results; a Markdown table is written beside it (default bench/results/latest.json)" };
        var keepData = new Option<bool>("--keep-data") { Description = "keep the temporary data directory (cluster, server logs) instead of deleting it" };
        var root = new RootCommand(About) { smoke, seconds, warmup, clients, scale, output, keepData };
        root.SetAction(parsed =>
        {
            var options = parsed.GetValue(smoke)
                ? new BenchOptions { Smoke = true, Seconds = 2, WarmupSeconds = 0.5, ServerWarmupSeconds = 1, Clients = 8, LargeScale = 1000 }
                : new BenchOptions();
            if (parsed.GetResult(seconds) is not null) options = options with { Seconds = parsed.GetValue(seconds) };
            if (parsed.GetResult(warmup) is not null) options = options with { WarmupSeconds = parsed.GetValue(warmup) };
            if (parsed.GetResult(clients) is not null) options = options with { Clients = parsed.GetValue(clients) };
            if (parsed.GetResult(scale) is not null) options = options with { LargeScale = parsed.GetValue(scale) };
            if (parsed.GetValue(output) is { } path) options = options with { Out = path };
            return run(options with { KeepData = parsed.GetValue(keepData) });
        });
        return root;
    }

    private static Option<T> Positive<T>(Option<T> option) where T : struct, INumber<T>
    {
        option.Validators.Add(result =>
        {
            // A value that is not a number at all is the parser's own error.
            if (result.Tokens is [var token] && T.TryParse(token.Value, CultureInfo.InvariantCulture, out var value) && value <= T.Zero)
                result.AddError($"{option.Name} must be a positive number, not {token.Value}.");
        });
        return option;
    }
}
