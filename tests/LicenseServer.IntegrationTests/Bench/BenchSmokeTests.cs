using System.Diagnostics;
using System.Text.Json;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Bench;

/// <summary>
/// The load bench (bench/, issue 9) in its smoke mode: a few seconds per phase against a fresh server with its
/// embedded PostgreSQL. CI does not run the full bench; this keeps the harness itself from rotting.
/// </summary>
[TestFixture]
// Alone (see Parallelism.cs): a load generator that takes every core for half a minute, within a 100 s limit.
[NonParallelizable]
public sealed class BenchSmokeTests
{
    private static string BenchDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var dll = RepoPaths.File($"bench/LicenseServer.Bench/bin/{configuration}/net10.0/kit-bench.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the solution first: {dll} is missing.");
        }
    }

    private static string[] DataDirectories() => Directory.GetDirectories(Path.GetTempPath(), "kit-bench-*");

    [Test, CancelAfter(120_000)]
    public async Task Smoke_run_measures_every_phase_and_the_floor_without_over_allocation()
    {
        var before = DataDirectories();
        var directory = Path.Combine(Path.GetTempPath(), "kit-smoke-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            var results = Path.Combine(directory, "smoke.json");
            var info = new ProcessStartInfo("dotnet", [BenchDll, "--smoke", "--out", results]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            var watch = Stopwatch.StartNew();
            if (!process.WaitForExit(TimeSpan.FromSeconds(100)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"The smoke bench did not finish in 100 s:\n{await stderr}");
            }
            Assert.That(process.ExitCode, Is.EqualTo(0), $"{await stdout}\n{await stderr}");
            TestContext.Out.WriteLine($"Smoke bench took {watch.Elapsed.TotalSeconds:0} s\n{await stdout}");

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(results));
            var root = json.RootElement;
            var phases = root.GetProperty("phases").EnumerateArray().ToList();
            Assert.That(phases.Select(p => p.GetProperty("name").GetString()), Is.EqualTo(new[] { "checkout", "heartbeat", "activation", "checkout", "heartbeat", "heartbeat", "checkout" }));
            Assert.That(phases.Select(p => p.GetProperty("live_sessions").GetInt64()), Is.EqualTo(new long[] { 100, 100, 100, 1000, 1000, 100, 100 }),
                "the small scale before and after the large one");
            Assert.Multiple(() =>
            {
                foreach (var phase in phases)
                    Assert.That(phase.GetProperty("main").GetProperty("rps").GetDouble(), Is.GreaterThan(0), phase.GetProperty("name").GetString());
                var floor = root.GetProperty("floor").EnumerateArray().ToDictionary(f => f.GetProperty("path").GetString()!, f => f.GetProperty("tps").GetDouble());
                Assert.That(floor.Keys, Is.EquivalentTo(new[] { "checkout", "heartbeat" }));
                Assert.That(floor.Values, Has.All.GreaterThan(0));
                var overAllocation = root.GetProperty("over_allocation");
                Assert.That(overAllocation.GetProperty("samples").GetInt32(), Is.GreaterThan(0));
                Assert.That(overAllocation.GetProperty("violations").GetArrayLength(), Is.EqualTo(0));
                Assert.That(root.GetProperty("memory").GetProperty("vm_hwm_mb").GetDouble(), Is.GreaterThan(0));
                Assert.That(root.GetProperty("memory").GetProperty("peak_rss_mb").GetDouble(), Is.GreaterThan(0));
                Assert.That(File.Exists(Path.Combine(directory, "smoke.md")), "the Markdown table beside the JSON");
                var pages = root.GetProperty("console_pages").EnumerateArray().ToList();
                Assert.That(pages.Select(p => p.GetProperty("path").GetString()).ToList(), Has.Count.EqualTo(3).And.All.StartWith("/Organizations/"), "the console's pages at scale");
                Assert.That(pages.Select(p => p.GetProperty("errors").GetInt32()), Has.All.Zero, "each page answered 200 to the signed-in Owner");
                Assert.That(pages.Select(p => p.GetProperty("bytes").GetInt64()), Has.All.GreaterThan(10_000), "whole pages, not a sign-in form");
                Assert.That(File.ReadAllText(Path.Combine(directory, "floor-checkout.pgbench.sql")), Does.Contain("kit_checkout_decide("), "the checkout is one statement that calls the database function");
            });
            Assert.That(DataDirectories().Except(before), Is.Empty, "the bench deletes its data directory");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
