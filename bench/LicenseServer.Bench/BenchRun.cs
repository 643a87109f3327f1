using LicenseServer.Core.Security;
using System.Diagnostics;
using System.Text.Json;
using Dapper;
using LicenseServer.Bench.Data;
using LicenseServer.Bench.Floor;
using LicenseServer.Bench.Load;
using LicenseServer.Bench.Pages;
using LicenseServer.Bench.Report;
using LicenseServer.Bench.Server;
using Npgsql;

namespace LicenseServer.Bench;

/// <summary>
/// The whole run: a fresh server, realistic data, the captured floor with pgbench while the server is idle,
/// then the HTTP phases at the small scale, the activations, the HTTP phases at the large scale, and the small
/// scale once more (in the mirrored order); all the while the seats are audited every second and the server's
/// memory sampled every 500 ms.
/// </summary>
/// <remarks>
/// The small scale is measured before and after the large one because this machine's speed drifts by as much
/// as 20% within minutes (on 2026-12-02 a heartbeat phase at 100,000 sessions cost the bench itself, whose
/// work does not depend on the sessions, 22% more CPU per request than the phase at 100 before it). The scale
/// ratios compare the large phase with the mean of the two small ones around it, which cancels a steady drift.
/// </remarks>
public static class BenchRun
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    private static void Log(string message) => Console.Error.WriteLine($"[{Clock.Elapsed.TotalSeconds,6:0.0}s] {message}");

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancel)
    {
        var outFile = Path.GetFullPath(options.Out);
        var outDirectory = Path.GetDirectoryName(outFile)!;
        Directory.CreateDirectory(outDirectory);
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        await using var server = await KitServerProcess.StartAsync(options, Log, cancel);
        await using var db = NpgsqlDataSource.Create(server.ConnectionString());
        using var stopSampling = new CancellationTokenSource();
        var memory = new MemorySampler(server);
        var memoryTask = memory.RunAsync(stopSampling.Token);
        var audit = new SeatAudit(db);
        var auditTask = audit.RunAsync(stopSampling.Token);
        try
        {
            var data = await BenchData.LoadAsync(db, options);
            Log($"Loaded {data.Users.Count} users in {data.OrganizationIds.Count} organizations, each user with a {KitServerProcess.PerUserProduct} license and an API key");
            await LiveSessions.FillAsync(db, data, options.SmallScale);
            using var driver = new LoadDriver(server.BaseUrl, data, options);

            var floors = await FloorAsync(server, db, data, driver, options, outDirectory, cancel);
            var grantSigning = GrantSigningMeter.Measure(server.LicenseText);
            Log($"Signing a floating grant: {grantSigning.MsPerGrant:0.###} ms of CPU ({grantSigning.Grants} grants, {grantSigning.GrantBytes} bytes each)");
            using var jit = new JitMeter(server.BaseUrl);
            await driver.SignInAsync(cancel);
            await WarmUpAsync(server, data, driver, jit, options, cancel);
            var phases = new List<PhaseResult>();
            var cpu = new CpuMeter(server.ProcessId, Path.Combine(server.Cluster.ClusterDirectory, "postmaster.pid"));
            async Task<PhaseResult> Phase(Func<long, CancellationToken, Task<PhaseResult>> run, string name)
            {
                var live = await LiveSessions.LiveCountAsync(db);
                Log($"Phase {name}: {options.Clients} clients, {live} live sessions, {options.WarmupSeconds:0.#} s warm-up + {options.Seconds:0.#} s");
                var (before, jitBefore) = (cpu.Take(), await jit.TakeAsync(cancel));
                var result = await run(live, cancel);
                result = result with { Cpu = CpuMeter.Between(before, cpu.Take()), Jit = JitUse.Between(jitBefore, await jit.TakeAsync(cancel)) };
                var (serverMs, postgresMs, benchMs) = result.Cpu.MsPerOperation(result.Main.Rps);
                Log($"  {result.Main.Rps:0.#} req/s, p50 {result.Main.P50Ms:0.##} ms, p99 {result.Main.P99Ms:0.##} ms, {result.Main.Errors} errors; " +
                    $"CPU per {name}: server {serverMs:0.###} ms, PostgreSQL {postgresMs:0.###} ms, bench {benchMs:0.###} ms; " +
                    $"cores busy: {result.Cpu.MachineCores:0.##} of which other work {result.Cpu.OtherCores:0.##}; " +
                    $"server JIT {result.Jit.Seconds * 1000:0} ms ({result.Jit.Methods:0} methods)");
                phases.Add(result);
                return result;
            }
            var checkoutSmall = await Phase(driver.CheckoutAsync, "checkout");
            var heartbeatSmall = await Phase(driver.HeartbeatAsync, "heartbeat");
            await Phase(driver.ActivationAsync, "activation");
            Log($"Filling the database to {options.LargeScale} live sessions");
            await LiveSessions.FillAsync(db, data, options.LargeScale);
            var checkoutLarge = await Phase(driver.CheckoutAsync, "checkout");
            var heartbeatLarge = await Phase(driver.HeartbeatAsync, "heartbeat");
            Log($"Back to {options.SmallScale} live sessions, for the small scale after the large one");
            await LiveSessions.TrimAsync(db, data, options.SmallScale);
            var heartbeatSmallAgain = await Phase(driver.HeartbeatAsync, "heartbeat");
            var checkoutSmallAgain = await Phase(driver.CheckoutAsync, "checkout");

            Log($"The console: an organization with {ConsolePages.Sessions} live sessions on {ConsolePages.Machines} machines and {ConsolePages.Members} members with a {KitServerProcess.PerUserProduct} license on two machines each");
            var (consoleOrg, consoleOwner) = await ConsolePages.LoadAsync(db, data);
            var pages = await ConsolePages.MeasureAsync(server.BaseUrl, consoleOrg, consoleOwner, data.Password, options.Smoke ? 3 : 200, cancel);
            foreach (var page in pages)
                Log($"  {page.Name}: p50 {page.P50Ms:0.##} ms, p95 {page.P95Ms:0.##} ms, {page.Bytes / 1024.0:0.#} KB, {page.Errors} errors");

            await audit.SampleAsync(); // the final check, after the last request
            var (_, vmHwm) = server.Memory();
            await stopSampling.CancelAsync();
            await Task.WhenAll(memoryTask, auditTask);
            var postgres = await VersionAsync(db);
            var report = Assemble(options, postgres, phases, floors, (checkoutSmall, checkoutLarge, checkoutSmallAgain), (heartbeatSmall, heartbeatLarge, heartbeatSmallAgain),
                new MemoryResult(Math.Round(memory.PeakRss / 1048576.0, 1), Math.Round(vmHwm / 1048576.0, 1), memory.Samples),
                new OverAllocationResult(audit.Samples, audit.FailedSamples, audit.MaxFloatingInUse, audit.Violations), grantSigning, pages);
            await File.WriteAllTextAsync(outFile, JsonSerializer.Serialize(report, BenchReport.Json), CancellationToken.None);
            var markdown = report.ToMarkdown();
            await File.WriteAllTextAsync(Path.ChangeExtension(outFile, ".md"), markdown, CancellationToken.None);
            Console.WriteLine(markdown);
            Log($"Results in {outFile} and {Path.ChangeExtension(outFile, ".md")}; floor scripts beside them");
            if (audit.Violations.Count > 0)
            {
                Console.Error.WriteLine($"OVER-ALLOCATION: {audit.Violations.Count} sample(s) found more seats in use than a quota allows.");
                return 3;
            }
            return 0;
        }
        finally
        {
            await stopSampling.CancelAsync();
            await Task.WhenAll(memoryTask, auditTask);
        }
    }

    /// <summary>
    /// Unmeasured load of every kind the phases send (checkouts, heartbeats, activations), in rounds, until a
    /// round finds the server's JIT settled (under 1% of the round's time spent compiling) or the warm-up's
    /// time is up. Until then a server still compiles its hot code again, optimized (tiered compilation), and
    /// the first phases would measure that rather than the server a customer runs for months.
    /// </summary>
    private static async Task WarmUpAsync(KitServerProcess server, BenchDataSet data, LoadDriver driver, JitMeter jit, BenchOptions options, CancellationToken cancel)
    {
        var roundSeconds = Math.Min(options.ServerWarmupSeconds, 6);
        Log($"Warming the server up: rounds of {roundSeconds:0.#} s of checkouts, heartbeats and activations, unmeasured, until its JIT settles (at most {options.ServerWarmupSeconds:0.#} s)");
        var warmOptions = options with { Seconds = roundSeconds / 3, WarmupSeconds = 0 };
        using var warm = new LoadDriver(server.BaseUrl, data, warmOptions);
        warm.SignedInAs(driver);
        var started = Stopwatch.GetTimestamp();
        for (var round = 1; ; round++)
        {
            var before = await jit.TakeAsync(cancel);
            var roundStarted = Stopwatch.GetTimestamp();
            await warm.CheckoutAsync(0, cancel);
            await warm.HeartbeatAsync(0, cancel);
            await warm.ActivationAsync(0, cancel);
            var compiled = JitUse.Between(before, await jit.TakeAsync(cancel));
            var share = compiled.Seconds / Stopwatch.GetElapsedTime(roundStarted).TotalSeconds;
            Log($"  round {round}: server JIT {compiled.Seconds * 1000:0} ms ({compiled.Methods:0} methods), {share:P1} of the round");
            if (share < 0.01 || Stopwatch.GetElapsedTime(started).TotalSeconds + roundSeconds > options.ServerWarmupSeconds) return;
        }
    }

    /// <summary>
    /// Captures the SQL of one checkout, heartbeat and release, then runs pgbench with it while the server is
    /// idle (its connection pool still small, so pgbench's clients fit under max_connections).
    /// </summary>
    private static async Task<IReadOnlyList<FloorResult>> FloorAsync(KitServerProcess server, NpgsqlDataSource db, BenchDataSet data, LoadDriver driver,
        BenchOptions options, string outDirectory, CancellationToken cancel)
    {
        var user = data.Users[^1];
        var machine = BenchDataSet.MachineId(0);
        // Once unmeasured first: caches warm, and the key's last use is fresh, so the capture shows the steady state.
        await RoundTripAsync(driver, user, machine, cancel);
        var capture = await CaptureAsync(server, db, driver, user, machine, cancel);
        var heartbeatSessions = options.Clients * options.SessionsPerHeartbeatClient;
        var organizationKeys = data.Users.GroupBy(u => u.OrganizationId).Select(g => ApiKeyToken.Hash(g.First().ApiKey)).ToList();
        var checkoutScript = FloorScriptBuilder.Checkout(capture.Checkout, capture.Release, capture.Session, ApiKeyToken.Hash(user.ApiKey), organizationKeys);
        var heartbeatScript = FloorScriptBuilder.Heartbeat(capture.Heartbeat, capture.Session, heartbeatSessions);
        var connection = server.ConnectionString();
        Log($"Floor: pgbench, {checkoutScript.Statements} captured statements for checkout + release, -M {checkoutScript.Mode}, {options.Clients} clients, {options.Seconds:0.#} s");
        var checkout = await Task.Run(() => PgBench.Run(checkoutScript, connection, outDirectory, options.Clients, options.Seconds), cancel);
        Log($"  {checkout.Tps:0.#} tps, p99 {checkout.P99Ms:0.##} ms");
        await LiveSessions.EndAsync(db, LiveSessions.FloorProcess);
        await LiveSessions.AddPredictableAsync(db, user.OrganizationId, user.Id, machine, heartbeatSessions);
        Log($"Floor: pgbench, {heartbeatScript.Statements} captured statements for heartbeat, -M {heartbeatScript.Mode}");
        var heartbeat = await Task.Run(() => PgBench.Run(heartbeatScript, connection, outDirectory, options.Clients, options.Seconds), cancel);
        Log($"  {heartbeat.Tps:0.#} tps, p99 {heartbeat.P99Ms:0.##} ms");
        await LiveSessions.EndAsync(db, LiveSessions.FloorProcess);
        return [checkout, heartbeat];
    }

    private sealed record Capture(Guid Session, IReadOnlyList<CapturedStatement> Checkout, IReadOnlyList<CapturedStatement> Heartbeat, IReadOnlyList<CapturedStatement> Release)
    {
        public string Shape => string.Join("\n;\n", Checkout.Concat(Heartbeat).Concat(Release).Select(s => s.Sql));
    }

    /// <summary>
    /// The statements of one checkout, heartbeat and release. A background job of the server (usage sampling,
    /// alerts) could log a statement inside a window, so captures are repeated until two agree.
    /// </summary>
    private static async Task<Capture> CaptureAsync(KitServerProcess server, NpgsqlDataSource db, LoadDriver driver, BenchUser user, string machine, CancellationToken cancel)
    {
        await using var log = new StatementCapture(db, server.PostmasterLog);
        await log.StartAsync();
        var captures = new List<Capture>();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            Guid session = default;
            var checkout = await log.CaptureAsync(async () =>
            {
                var (id, error) = await driver.CheckoutOnceAsync(user, machine, LiveSessions.FloorProcess, cancel);
                session = id ?? throw new InvalidOperationException($"The capture's checkout failed: {error}");
            });
            var heartbeat = await log.CaptureAsync(async () => Require(await driver.HeartbeatOnceAsync(user, session, cancel), "heartbeat"));
            var release = await log.CaptureAsync(async () => Require(await driver.ReleaseOnceAsync(user, session, cancel), "release"));
            var capture = new Capture(session, checkout, heartbeat, release);
            if (captures.FirstOrDefault(c => c.Shape == capture.Shape) is not null)
            {
                Log($"Captured the SQL of a checkout ({checkout.Count} statements), a heartbeat ({heartbeat.Count}) and a release ({release.Count})");
                return capture;
            }
            captures.Add(capture);
        }
        throw new InvalidOperationException("Five captures of the same requests logged different SQL each time; see the server's postmaster.log.");

        static void Require(string? error, string what)
        {
            if (error is not null) throw new InvalidOperationException($"The capture's {what} failed: {error}");
        }
    }

    private static async Task RoundTripAsync(LoadDriver driver, BenchUser user, string machine, CancellationToken cancel)
    {
        var (session, error) = await driver.CheckoutOnceAsync(user, machine, LiveSessions.FloorProcess, cancel);
        if (session is not { } id) throw new InvalidOperationException($"The first checkout failed: {error}");
        await driver.HeartbeatOnceAsync(user, id, cancel);
        await driver.ReleaseOnceAsync(user, id, cancel);
    }

    private static async Task<string> VersionAsync(NpgsqlDataSource db)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>("SHOW server_version") ?? "unknown";
    }

    /// <summary>
    /// The ratios and the targets. A path's small-scale figure is the mean of its two small phases (before and
    /// after the large one), for the floor ratio as for the scale ratio; every phase's p99 is a target.
    /// </summary>
    private static BenchReport Assemble(BenchOptions options, string postgres, List<PhaseResult> phases, IReadOnlyList<FloorResult> floors,
        (PhaseResult Small, PhaseResult Large, PhaseResult SmallAgain) checkout, (PhaseResult Small, PhaseResult Large, PhaseResult SmallAgain) heartbeat,
        MemoryResult memory, OverAllocationResult overAllocation, GrantSigningResult grantSigning, IReadOnlyList<PageResult> pages)
    {
        static double Div(double a, double b) => b > 0 ? Math.Round(a / b, 3) : 0;
        var checkoutFloor = floors.Single(f => f.Path == "checkout");
        var heartbeatFloor = floors.Single(f => f.Path == "heartbeat");
        var checkoutSmall = (checkout.Small.Main.Rps + checkout.SmallAgain.Main.Rps) / 2;
        var heartbeatSmall = (heartbeat.Small.Main.Rps + heartbeat.SmallAgain.Main.Rps) / 2;
        var (large, small) = (checkout.Large.LiveSessions, checkout.Small.LiveSessions);
        const string mean = "the mean of the two phases at the small scale, before and after the large one";
        List<Ratio> ratios =
        [
            new("checkout_vs_floor", Div(checkoutSmall, checkoutFloor.Tps), $"server checkouts/s (each followed by its release; {mean}) ÷ pgbench tps of the captured checkout + release"),
            new("heartbeat_vs_floor", Div(heartbeatSmall, heartbeatFloor.Tps), $"server heartbeats/s ({mean}) ÷ pgbench tps of the captured heartbeat"),
            new("checkout_large_vs_small", Div(checkout.Large.Main.Rps, checkoutSmall), $"checkouts/s with {large} live sessions ÷ with {small} ({mean})"),
            new("heartbeat_large_vs_small", Div(heartbeat.Large.Main.Rps, heartbeatSmall), $"heartbeats/s with {heartbeat.Large.LiveSessions} live sessions ÷ with {heartbeat.Small.LiveSessions} ({mean})"),
        ];
        var at = $"at {options.Clients} clients";
        List<Target> targets =
        [
            new("checkout throughput vs floor", "≥ 0.5", ratios[0].Value, ratios[0].Value >= 0.5),
            new("heartbeat throughput vs floor", "≥ 0.7", ratios[1].Value, ratios[1].Value >= 0.7),
            .. phases.Select((p, i) =>
                new Target($"{p.Name} p99 ({p.LiveSessions} live sessions{(phases.Take(i).Any(q => q.Name == p.Name && q.LiveSessions == p.LiveSessions) ? ", again" : "")})",
                    $"≤ 50 ms {at}", p.Main.P99Ms, p.Main.P99Ms <= 50)),
            new($"checkout throughput, {large} vs {small} sessions", "≥ 0.8", ratios[2].Value, ratios[2].Value >= 0.8),
            new($"heartbeat throughput, {heartbeat.Large.LiveSessions} vs {heartbeat.Small.LiveSessions} sessions", "≥ 0.8", ratios[3].Value, ratios[3].Value >= 0.8),
            new("server peak memory (VmHWM, MB)", "≤ 400", memory.VmHwmMb, memory.VmHwmMb > 0 && memory.VmHwmMb <= 400),
            new("over-allocation (violations)", "0 at every sample and at the end", overAllocation.Violations.Count, overAllocation.Violations.Count == 0 && overAllocation.Samples > 0),
            .. phases.Where(p => p.Main.Errors > 0).Select(p => new Target($"{p.Name} errors", "0", p.Main.Errors, false)),
            .. pages.SelectMany(p => new[]
            {
                new Target($"console: {p.Name}, p95", $"≤ {ConsolePages.P95TargetMs:0} ms", p.P95Ms, p.P95Ms <= ConsolePages.P95TargetMs && p.Errors == 0),
                new Target($"console: {p.Name}, answer (KB)", $"≤ {ConsolePages.BytesTarget / 1024} KB", Math.Round(p.Bytes / 1024.0, 1), p.Bytes <= ConsolePages.BytesTarget),
            }),
        ];
        return new BenchReport(options.Smoke ? "smoke" : "full", MachineInfo.Read(postgres), options.Clients, options.Seconds, options.WarmupSeconds,
            options.Users, options.Organizations, phases, floors, ratios, memory, overAllocation, targets, grantSigning, pages);
    }
}

/// <summary>The server process's resident memory every 500 ms; the peak is kept.</summary>
public sealed class MemorySampler(KitServerProcess server)
{
    public long PeakRss { get; private set; }
    public int Samples { get; private set; }

    public async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try
        {
            do
            {
                var (rss, _) = server.Memory();
                if (rss > 0)
                {
                    PeakRss = Math.Max(PeakRss, rss);
                    Samples++;
                }
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
