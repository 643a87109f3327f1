using System.Globalization;

namespace LicenseServer.Bench;

/// <summary>The command line: <c>kit-bench [--smoke] [--seconds N] [--clients N] [--out FILE.json] [--scale N] [--keep-data]</c>.</summary>
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
    /// <summary>The floating product's license quota, shared evenly by the organizations.</summary>
    public int FloatingQuota { get; init; } = 1_000_000;
    /// <summary>The per-user product's license quota: twice the users, so every user holds one.</summary>
    public int PerUserQuota { get; init; } = 2000;
    public int SessionsPerHeartbeatClient { get; init; } = 4;
    public int SmallScale { get; init; } = 100;
    public int LargeScale { get; init; } = 100_000;
    /// <summary>Keep the temporary data directory (the cluster, the server's logs) for inspection.</summary>
    public bool KeepData { get; init; }

    public const string Usage = """
        Usage: kit-bench [--smoke] [--seconds N] [--warmup N] [--clients N] [--scale N] [--out FILE.json] [--keep-data]
          --smoke      a few seconds per phase, 8 clients, 1,000 sessions for the large scale (the tests run this)
          --seconds    measured seconds per phase (default 20; smoke 2)
          --warmup     seconds of load before each phase is measured (default 2; smoke 0.5)
          --clients    concurrent HTTP clients, and pgbench clients for the floor (default 64; smoke 8)
          --scale      live sessions in the database for the large-scale runs (default 100000; smoke 1000)
          --out        the JSON results; a Markdown table is written beside it (default bench/results/latest.json)
          --keep-data  keep the temporary data directory (cluster, server logs) instead of deleting it
        """;

    public static BenchOptions Parse(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var options = smoke
            ? new BenchOptions { Smoke = true, Seconds = 2, WarmupSeconds = 0.5, ServerWarmupSeconds = 1, Clients = 8, LargeScale = 1000 }
            : new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            options = args[i] switch
            {
                "--smoke" => options,
                "--keep-data" => options with { KeepData = true },
                "--seconds" => options with { Seconds = Positive(Value(), "--seconds") },
                "--warmup" => options with { WarmupSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--clients" => options with { Clients = (int)Positive(Value(), "--clients") },
                "--scale" => options with { LargeScale = (int)Positive(Value(), "--scale") },
                "--out" => options with { Out = Value() },
                _ => throw new ArgumentException($"Unknown option {args[i]}.\n{Usage}"),
            };
        }
        return options;
    }

    private static double Positive(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value : throw new ArgumentException($"{name} must be a positive number, not \"{text}\".");
}
