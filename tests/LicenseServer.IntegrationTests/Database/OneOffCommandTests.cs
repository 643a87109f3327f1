using System.Net;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>
/// The administration commands (backup, reset-password, migrate …) run beside a server that uses the embedded
/// PostgreSQL of the same data directory, as IT runs them on a live installation. The server started that cluster
/// and keeps it: a command uses it and leaves it running. Only a cluster whose processes are all gone (a crash) is
/// stopped by the command that finds it.
/// </summary>
[NonParallelizable] // three kit-server processes and an embedded cluster of their own, one after another
public class OneOffCommandTests
{
    private string _data = null!;
    private string[] _settings = null!;

    [SetUp]
    public void MakeDataDirectory()
    {
        // Not CreateTempSubdirectory (owner-only): run as root, the cluster runs as the postgres user, which must reach it.
        _data = Path.Combine(Path.GetTempPath(), "kit-oneoff-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_data);
        _settings = TestServer.Arguments("", _data, $"--Kit:Database:EmbeddedPort={FreePort.Next()}");
    }

    [TearDown]
    public void RemoveDataDirectory()
    {
        if (Cluster.IsRunning()) Cluster.Stop();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private PostgresCluster Cluster => new(_data, int.Parse(_settings.Single(s => s.StartsWith("--Kit:Database:EmbeddedPort=", StringComparison.Ordinal)).Split('=')[1]),
        NullLogger.Instance);

    private ProcessResult Command(string verb, params string[] args) => ServerProcess.Command(verb, [.. args, .. _settings]);

    private static async Task AssertServingAsync(ServerProcess server, string after)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        using var ready = await http.GetAsync("/health/ready");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"after {after} the server's database is gone:\n{server.Output}");
    }

    [Test]
    public async Task Each_command_run_beside_a_running_server_leaves_it_serving_and_restore_refuses()
    {
        await using var server = await ServerProcess.StartAsync("", _settings);
        var backup = Path.Combine(_data, "..", Path.GetFileName(_data) + ".tar.gz");
        try
        {
            var commands = new (string Verb, string[] Args, int Exit)[]
            {
                ("migrate", [], 0),
                ("create-default-account", ["--email", "admin@acme.test", "--password", "correct horse battery"], 0),
                ("reset-password", ["--email", "admin@acme.test", "--password", "another horse battery"], 0),
                ("license-request", ["--out", Path.Combine(_data, "request.txt")], 0),
                ("setup-code", [], 1), // refused (the default account exists), and still leaves the database alone
                ("backup", ["--out", backup], 0),
            };
            foreach (var (verb, args, exit) in commands)
            {
                var run = Command(verb, args);
                Assert.That(run.ExitCode, Is.EqualTo(exit), $"{verb}: {run.Output}");
                await AssertServingAsync(server, verb);
            }
            var backupRun = Command("backup", "--out", backup);
            Assert.That(backupRun.Output, Does.Contain("The server may keep running while a backup is taken"), "backup says it needs no downtime");

            // Restoring under a running server would change its database under its feet: refused with a sentence, nothing touched.
            var restore = Command("restore", "--file", backup, "--replace");
            Assert.That(restore.ExitCode, Is.EqualTo(1), restore.Output);
            Assert.That(restore.Output, Does.Contain($"A Kit License Server (process {server.ProcessId}) is running on the data directory"));
            await AssertServingAsync(server, "restore");
            var signIn = Command("reset-password", "--email", "admin@acme.test", "--password", "a third horse battery");
            Assert.That(signIn.ExitCode, Is.Zero, "the account made before the refused restore is still there: " + signIn.Output);
        }
        finally
        {
            File.Delete(backup);
        }

        await server.DisposeAsync();
        Assert.That(Cluster.IsRunning(), Is.False, "the server stops the cluster it started when it stops");
    }

    [Test]
    public async Task A_cluster_left_running_by_a_server_that_crashed_is_stopped_by_the_command_that_finds_it()
    {
        var server = await ServerProcess.StartAsync("", _settings);
        await server.KillAsync(); // kill -9: the server cannot stop its cluster
        await server.DisposeAsync();
        Assert.That(Cluster.IsRunning(), Is.True, "the crashed server's cluster is still running");

        var migrate = Command("migrate");
        Assert.That(migrate.ExitCode, Is.Zero, migrate.Output);
        Assert.That(Cluster.IsRunning(), Is.False, "no process of the cluster's is alive: the command that found it stops it");
    }
}
