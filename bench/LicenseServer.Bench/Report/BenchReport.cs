using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LicenseServer.Bench.Data;
using LicenseServer.Bench.Floor;
using LicenseServer.Bench.Load;
using LicenseServer.Bench.Pages;

namespace LicenseServer.Bench.Report;

public sealed record MachineInfo(string Cpu, int Cores, long MemoryMb, string Os, string Dotnet, string Postgres, DateTimeOffset Date)
{
    public static MachineInfo Read(string postgresVersion)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";
        var memory = File.Exists("/proc/meminfo")
            ? long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024
            : 0;
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? RuntimeInformation.OSDescription
            : RuntimeInformation.OSDescription;
        return new MachineInfo(cpu, Environment.ProcessorCount, memory, $"{os} ({RuntimeInformation.OSArchitecture})", RuntimeInformation.FrameworkDescription,
            postgresVersion, DateTimeOffset.UtcNow);
    }
}

public sealed record MemoryResult(double PeakRssMb, double VmHwmMb, int Samples);

public sealed record OverAllocationResult(int Samples, int FailedSamples, long MaxFloatingInUse, IReadOnlyList<Violation> Violations);

public sealed record Ratio(string Name, double Value, string Explanation);

public sealed record Target(string Name, string Goal, double? Measured, bool Pass);

public sealed record BenchReport(
    string Mode, MachineInfo Machine, int Clients, double Seconds, double WarmupSeconds, int Users, int Organizations,
    IReadOnlyList<PhaseResult> Phases, IReadOnlyList<FloorResult> Floor, IReadOnlyList<Ratio> Ratios, MemoryResult Memory,
    OverAllocationResult OverAllocation, IReadOnlyList<Target> Targets, GrantSigningResult GrantSigning, IReadOnlyList<PageResult> ConsolePages)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a file for people: "÷", not "\u00F7"
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine(inv, $"Kit License Server bench ({Mode}), {Machine.Date:yyyy-MM-dd HH:mm} UTC: {Machine.Cpu}, {Machine.Cores} cores, {Machine.MemoryMb / 1024.0:0.#} GB RAM, {Machine.Os}, {Machine.Dotnet}, PostgreSQL {Machine.Postgres}.")
          .AppendLine(inv, $"{Clients} clients, {Seconds:0.#} s per phase after {WarmupSeconds:0.#} s of warm-up; {Users} users in {Organizations} organizations.")
          .AppendLine()
          .AppendLine("| Phase | Live sessions | Requests | req/s | p50 ms | p99 ms | max ms | Errors |")
          .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var p in Phases)
        {
            Row(md, p.Name, p.LiveSessions, p.Main);
            if (p.Release is { } release) Row(md, $"  (release after {p.Name})", p.LiveSessions, release);
        }
        foreach (var f in Floor)
            md.AppendLine(inv, $"| floor: pgbench {f.Path} (-M {f.Mode}) | | {f.Transactions} | {f.Tps:0.#} | {f.P50Ms:0.##} | {f.P99Ms:0.##} | | {f.Failed} |");
        md.AppendLine()
          .AppendLine("CPU per operation (a checkout phase's operation is a checkout and its release), in milliseconds, the cores busy on average,")
          .AppendLine("and the time the server's JIT still spent compiling during the phase (part of the server's CPU):")
          .AppendLine()
          .AppendLine("| Phase | Live sessions | server ms | PostgreSQL ms | bench ms | cores busy | of which other work | server JIT ms |")
          .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var p in Phases.Where(p => p.Cpu is not null))
        {
            var (server, postgres, bench) = p.Cpu!.MsPerOperation(p.Main.Rps);
            var jit = p.Jit is { } j ? (j.Seconds * 1000).ToString("0", inv) : "";
            md.AppendLine(inv, $"| {p.Name} | {p.LiveSessions} | {server:0.###} | {postgres:0.###} | {bench:0.###} | {p.Cpu.MachineCores:0.##} | {p.Cpu.OtherCores:0.##} | {jit} |");
        }
        var checkout = Phases.FirstOrDefault(p => p.Name == "checkout" && p.Cpu is not null);
        var share = checkout is null ? "" : string.Create(inv, $", {GrantSigning.MsPerGrant / checkout.Cpu!.MsPerOperation(checkout.Main.Rps).Server:0.#%} of the server's CPU per checkout in the first checkout phase");
        md.AppendLine()
          .AppendLine(inv, $"Every checkout and heartbeat answer carries a floating grant signed with the server key: signing one costs {GrantSigning.MsPerGrant:0.###} ms of CPU " +
                           $"(one thread, {GrantSigning.Grants} grants of {GrantSigning.GrantBytes} bytes){share}.")
          .AppendLine()
          .AppendLine(inv, $"Server memory: peak RSS sampled {Memory.PeakRssMb:0.#} MB, VmHWM {Memory.VmHwmMb:0.#} MB. " +
                           $"Over-allocation: {OverAllocation.Violations.Count} violation(s) in {OverAllocation.Samples} samples.")
          .AppendLine()
          .AppendLine("The console, one signed-in client fetching each page in turn (time to the answer's last byte):")
          .AppendLine()
          .AppendLine("| Console page | Requests | p50 ms | p95 ms | max ms | Answer KB | Errors |")
          .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var p in ConsolePages)
            md.AppendLine(inv, $"| {p.Name} | {p.Requests} | {p.P50Ms:0.##} | {p.P95Ms:0.##} | {p.MaxMs:0.##} | {p.Bytes / 1024.0:0.#} | {p.Errors} |");
        md.AppendLine()
          .AppendLine("| Target | Goal | Measured | |")
          .AppendLine("| --- | --- | ---: | --- |");
        foreach (var t in Targets)
            md.AppendLine(inv, $"| {t.Name} | {t.Goal} | {(t.Measured is { } m ? m.ToString("0.###", inv) : "")} | {(t.Pass ? "pass" : "**MISSED**")} |");
        return md.ToString();
    }

    private static void Row(StringBuilder md, string name, long live, OperationStats s) =>
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| {name} | {live} | {s.Requests} | {s.Rps:0.#} | {s.P50Ms:0.##} | {s.P99Ms:0.##} | {s.MaxMs:0.##} | {(s.Errors == 0 ? "0" : string.Join(", ", s.ErrorsByCode.Select(e => $"{e.Value} × {e.Key}")))} |");
}
