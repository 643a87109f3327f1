using System.Globalization;
using System.Text.RegularExpressions;
using LicenseServer.Bench.Load;
using LicenseServer.Data.Operations;
using Npgsql;

namespace LicenseServer.Bench.Floor;

public sealed record FloorResult(string Path, string Script, string Mode, int Clients, double Seconds, long Transactions, double Tps,
    double LatencyAverageMs, double P50Ms, double P99Ms, long Failed);

/// <summary>
/// Runs pgbench with a captured script against the server's database: the same client count as the HTTP
/// load, two threads (the machine's cores), no vacuum of pgbench's own tables (there are none), and a
/// per-transaction log from which p50/p99 are taken the same way as the server's.
/// </summary>
public static partial class PgBench
{
    [GeneratedRegex(@"^tps = ([\d.]+) \(without initial connection time\)", RegexOptions.Multiline)]
    private static partial Regex Tps();

    [GeneratedRegex(@"^number of transactions actually processed: (\d+)", RegexOptions.Multiline)]
    private static partial Regex Processed();

    [GeneratedRegex(@"^latency average = ([\d.]+) ms", RegexOptions.Multiline)]
    private static partial Regex Average();

    [GeneratedRegex(@"^number of failed transactions: (\d+)", RegexOptions.Multiline)]
    private static partial Regex Failed();

    public static string Executable => Path.Combine(PostgresCluster.FindBinDirectory(null, "pgbench"), "pgbench");

    public static FloorResult Run(FloorScript script, string connectionString, string directory, int clients, double seconds)
    {
        var file = Path.Combine(directory, $"floor-{script.Name}.pgbench.sql");
        File.WriteAllText(file, script.Text);
        var logs = Path.Combine(directory, $".pgbench-{script.Name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(logs);
        try
        {
            var target = new NpgsqlConnectionStringBuilder(connectionString);
            var result = ProcessRunner.Run(Executable,
            [
                "-h", target.Host!, "-p", target.Port.ToString(CultureInfo.InvariantCulture), "-U", target.Username!, "-n",
                "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, Environment.ProcessorCount).ToString(CultureInfo.InvariantCulture),
                "-T", Math.Max(1, (int)Math.Round(seconds)).ToString(CultureInfo.InvariantCulture),
                "-M", script.Mode, "-f", file, "-l", $"--log-prefix={Path.Combine(logs, "tx")}", target.Database!,
            ], TimeSpan.FromSeconds(seconds + 120), new Dictionary<string, string> { ["PGPASSWORD"] = target.Password! });
            var tps = Tps().Match(result.Output);
            if (result.ExitCode != 0 || !tps.Success)
                throw new InvalidOperationException($"pgbench failed with the {script.Name} script {file} (exit {result.ExitCode}):\n{Tail(result.Output)}");
            var latencies = new LatencyHistogram();
            foreach (var log in Directory.EnumerateFiles(logs))
                foreach (var line in File.ReadLines(log))
                {
                    // client_id transaction_no latency_us script_no epoch epoch_us
                    var fields = line.Split(' ');
                    if (fields.Length >= 3 && long.TryParse(fields[2], CultureInfo.InvariantCulture, out var us)) latencies.Record(us);
                }
            return new FloorResult(script.Name, file, script.Mode, clients, seconds,
                long.Parse(Processed().Match(result.Output).Groups[1].Value, CultureInfo.InvariantCulture),
                Math.Round(double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture), 1),
                Average().Match(result.Output) is { Success: true } average ? double.Parse(average.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
                Math.Round(latencies.PercentileMilliseconds(50), 2), Math.Round(latencies.PercentileMilliseconds(99), 2),
                Failed().Match(result.Output) is { Success: true } failed ? long.Parse(failed.Groups[1].Value, CultureInfo.InvariantCulture) : 0);
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }

    private static string Tail(string output) => string.Join('\n', output.Split('\n').TakeLast(15));
}
