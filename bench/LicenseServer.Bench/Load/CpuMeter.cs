using System.Diagnostics;
using System.Globalization;

namespace LicenseServer.Bench.Load;

/// <summary>
/// Where a phase's CPU went, in cores busy on average (2.0 = both cores of a 2-core machine all the time):
/// the server process, PostgreSQL (the postmaster and its children alive at both ends of the phase: the
/// pooled backends; autovacuum workers that came and went fall under <see cref="OtherCores"/>), this bench,
/// and whatever else the machine ran. On a shared machine, a phase that ran beside other work says so here.
/// </summary>
public sealed record CpuUse(double ServerCores, double PostgresCores, double BenchCores, double OtherCores, double MachineCores)
{
    /// <summary>CPU milliseconds per operation of each part, for a phase that did <paramref name="opsPerSecond"/>.</summary>
    public (double Server, double Postgres, double Bench) MsPerOperation(double opsPerSecond) => opsPerSecond > 0
        ? (Math.Round(ServerCores * 1000 / opsPerSecond, 3), Math.Round(PostgresCores * 1000 / opsPerSecond, 3), Math.Round(BenchCores * 1000 / opsPerSecond, 3))
        : (0, 0, 0);
}

/// <summary>Reads CPU time from /proc at the start and end of a phase (Linux only; zeros elsewhere).</summary>
public sealed class CpuMeter(int serverPid, string postmasterPidFile)
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public sealed record Snapshot(long Timestamp, long Server, IReadOnlyDictionary<int, long> Postgres, TimeSpan Bench, long MachineBusy);

    public Snapshot Take()
    {
        var postgres = new Dictionary<int, long>();
        if (PostmasterPid() is { } postmaster)
        {
            postgres[postmaster] = Ticks(postmaster).Ticks;
            foreach (var dir in SafeDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
                var (ticks, parent) = Ticks(pid);
                if (parent == postmaster) postgres[pid] = ticks;
            }
        }
        return new Snapshot(Stopwatch.GetTimestamp(), Ticks(serverPid).Ticks, postgres, Process.GetCurrentProcess().TotalProcessorTime, MachineBusy());
    }

    public static CpuUse Between(Snapshot start, Snapshot end)
    {
        var seconds = Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp).TotalSeconds;
        if (seconds <= 0) return new CpuUse(0, 0, 0, 0, 0);
        double Cores(double ticks) => Math.Round(ticks / TicksPerSecond / seconds, 3);
        var postgres = end.Postgres.Where(p => start.Postgres.ContainsKey(p.Key)).Sum(p => p.Value - start.Postgres[p.Key]);
        var server = Cores(end.Server - start.Server);
        var bench = Math.Round((end.Bench - start.Bench).TotalSeconds / seconds, 3);
        var machine = Cores(end.MachineBusy - start.MachineBusy);
        var pg = Cores(postgres);
        return new CpuUse(server, pg, bench, Math.Round(Math.Max(0, machine - server - pg - bench), 3), machine);
    }

    private int? PostmasterPid()
    {
        try
        {
            return File.Exists(postmasterPidFile) && int.TryParse(File.ReadLines(postmasterPidFile).FirstOrDefault(), out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>utime + stime of a process, and its parent's pid; (0, 0) once it is gone.</summary>
    private static (long Ticks, int Parent) Ticks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name, in parentheses, may hold spaces: the fields that count come after its last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture),
                int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return (0, 0);
        }
    }

    /// <summary>The machine's busy ticks over all cores: user, nice, system, irq, softirq and steal of /proc/stat's first line.</summary>
    private static long MachineBusy()
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return new[] { 1, 2, 3, 6, 7, 8 }.Sum(i => long.Parse(cpu[i], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    private static IEnumerable<string> SafeDirectories(string path)
    {
        try
        {
            return Directory.GetDirectories(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
