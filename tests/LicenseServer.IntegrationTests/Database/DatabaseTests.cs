using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using LicenseServer.Data.Database;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

public class DatabaseTests
{
    [Test]
    public async Task Restarting_keeps_the_activation_and_accounts_and_does_not_rerun_migrations()
    {
        string connectionString, installationId;
        // An empty database: this first start applies every migration (other tests start on a migrated copy).
        await using (var first = await TestServer.StartAsync(PostgresFixture.CreateDatabase()))
        {
            connectionString = first.ConnectionString;
            installationId = (await first.IdentityAsync()).InstallationId;
            await first.Service<ActivationService>().ActivateAsync(await first.LicenseAsync());
            await first.Service<AccountService>().CreateDefaultAccountAsync("admin@acme.test", "correct horse", "correct horse");
        }

        Assert.That(Migrator.Migrate(connectionString, NullLogger.Instance), Is.Empty, "a second start applies nothing");
        await using var second = await TestServer.StartAsync(connectionString);
        Assert.That((await second.IdentityAsync()).InstallationId, Is.EqualTo(installationId));
        using var client = new ConsoleClient(second.BaseUrl);
        using (var signIn = await client.SignInAsync("admin@acme.test", "correct horse"))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/"));
        Assert.That(await client.GetTextAsync("/"), Does.Contain("Studio Enterprise"));

        await using var connection = new NpgsqlConnection(connectionString);
        var journal = (await connection.QueryAsync<string>("SELECT scriptname FROM schemaversions")).ToList();
        Assert.That(journal, Is.EqualTo(Migrator.KnownScripts), "each migration is journaled once");
    }

    [Test]
    public async Task An_asynchronous_commit_applies_to_its_own_round_trip_and_never_to_the_pooled_connections_next_user()
    {
        await using var server = await TestServer.StartAsync();
        await using var connection = await server.Service<NpgsqlDataSource>().OpenConnectionAsync();
        var setting = "SELECT current_setting('synchronous_commit')";
        Assert.That(await connection.ExecuteScalarAsync<string>(LicenseServer.Data.Licenses.ClientRepository.AsynchronousCommit + setting), Is.EqualTo("off"),
            "releases and heartbeats commit without waiting for the disk");
        Assert.That(await connection.ExecuteScalarAsync<string>(setting), Is.EqualTo("on"), "everything else, seats taken first, waits for it");
    }

    [Test]
    public async Task A_console_cookie_survives_a_restart_because_Data_Protection_keys_live_in_PostgreSQL()
    {
        await using var first = await TestServer.StartAsync();
        await first.Service<ActivationService>().ActivateAsync(await first.LicenseAsync());
        await first.Service<AccountService>().CreateDefaultAccountAsync("admin@acme.test", "correct horse", "correct horse");
        using var browser = new ConsoleClient(first.BaseUrl);
        await browser.SignInAsync("admin@acme.test", "correct horse");
        var cookies = browser.Cookies.GetAllCookies();
        Assert.That(cookies.Select(c => c.Name), Does.Contain("kit.session"));

        await using var second = await TestServer.StartAsync(first.ConnectionString);
        using var sameBrowser = new ConsoleClient(second.BaseUrl);
        foreach (System.Net.Cookie cookie in cookies) sameBrowser.Cookies.Add(new Uri(second.BaseUrl), new System.Net.Cookie(cookie.Name, cookie.Value));
        using var home = await sameBrowser.GetAsync("/");
        Assert.That(home.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another process on the same database accepts the cookie");
        Assert.That(await home.Content.ReadAsStringAsync(), Does.Contain("Licensed products"));
    }

    [Test]
    public async Task The_server_refuses_a_schema_newer_than_itself()
    {
        var connectionString = PostgresFixture.CreateDatabase();
        Migrator.Migrate(connectionString, NullLogger.Instance);
        await using (var connection = new NpgsqlConnection(connectionString))
            await connection.ExecuteAsync("INSERT INTO schemaversions (scriptname, applied) VALUES ('db-migrations.9999_future.sql', now())");

        var dataDirectory = Path.Combine(Path.GetTempPath(), "kit-newer-" + Guid.NewGuid().ToString("N")[..6]);
        var e = Assert.Throws<NewerSchemaException>(() => ServerHost.Build(TestServer.Arguments(connectionString, dataDirectory)))!;
        Assert.That(e.Message, Does.Contain("9999_future").And.Contain("newer"));
    }

    [Test]
    public async Task The_migrate_command_applies_every_script_once()
    {
        var connectionString = PostgresFixture.CreateDatabase();
        var args = TestServer.Arguments(connectionString, Path.Combine(Path.GetTempPath(), "kit-test-data-" + Guid.NewGuid().ToString("N")[..6]));
        Assert.That(await LicenseServer.Web.Commands.KitCommands.RunAsync(["migrate", .. args]), Is.Zero);
        Assert.That(await LicenseServer.Web.Commands.KitCommands.RunAsync(["migrate", .. args]), Is.Zero);
        await using var connection = new NpgsqlConnection(connectionString);
        Assert.That(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM schemaversions"), Is.EqualTo(Migrator.KnownScripts.Count));
        Assert.That(await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('public.user_account') IS NOT NULL"), Is.True);
    }

    [Test]
    public async Task Health_and_version_answer()
    {
        await using var server = await TestServer.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        using (var live = await http.GetAsync("/health/live"))
        {
            Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await live.Content.ReadAsStringAsync(), Is.EqualTo("""{"status":"live"}"""));
        }
        foreach (var route in new[] { "/health/ready", "/health" })
        {
            using var ready = await http.GetAsync(route);
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), route);
            Assert.That(await ready.Content.ReadAsStringAsync(), Is.EqualTo("""{"status":"ready","database":"up"}"""), route);
            Assert.That(ready.Headers.CacheControl?.NoStore, Is.True, "a probe's answer is never cached");
        }
        var version = await http.GetFromJsonAsync<JsonElement>("/version");
        Assert.That(version.GetProperty("version").GetString(), Is.EqualTo(ServerHost.Version));
        Assert.That(version.GetProperty("schema").GetString(), Is.EqualTo(Migrator.KnownScripts[^1].Replace("db-migrations.", "")));
    }

    // Alone (see Parallelism.cs): the log configuration is one for the process, written by the last server started.
    [Test, NonParallelizable]
    public async Task Logs_go_to_a_file_in_the_logs_directory()
    {
        await using var server = await TestServer.StartAsync();
        var logs = Path.Combine(server.DataDirectory, "logs");
        var text = string.Join("\n", Directory.GetFiles(logs, "*.log").Select(ReadShared));
        Assert.That(text, Does.Contain("installation").Or.Contain("schema"));
        Assert.That(text, Does.Not.Contain("Password="), "no secret in a log");

        static string ReadShared(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(stream).ReadToEnd();
        }
    }

    // Alone (see Parallelism.cs): stopping the embedded PostgreSQL empties every connection pool of the process.
    [Test, NonParallelizable]
    public async Task With_no_database_configured_the_server_runs_its_own_PostgreSQL_keeps_its_data_and_stops_it()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "kit-embedded-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDirectory);
        var port = FreePort.Next();
        var args = TestServer.Arguments("", dataDirectory, $"--Kit:Database:EmbeddedPort={port}");
        string installationId;
        var first = ServerHost.Build(args);
        try
        {
            installationId = (await ((ActivationService)first.Services.GetService(typeof(ActivationService))!).EnsureIdentityAsync()).InstallationId;
            await ((AccountService)first.Services.GetService(typeof(AccountService))!).CreateDefaultAccountAsync("admin@acme.test", "correct horse", "correct horse");
        }
        finally
        {
            ((DatabaseBootstrap)first.Services.GetService(typeof(DatabaseBootstrap))!).StopEmbedded();
            await first.DisposeAsync();
        }

        var app = ServerHost.Build(args);
        await app.StartAsync();
        var cluster = app.Services.GetService(typeof(DatabaseBootstrap)) as DatabaseBootstrap;
        Assert.That((await ((ActivationService)app.Services.GetService(typeof(ActivationService))!).EnsureIdentityAsync()).InstallationId,
            Is.EqualTo(installationId), "the embedded cluster keeps its data across restarts");
        Assert.That(await ((AccountService)app.Services.GetService(typeof(AccountService))!).DefaultAccountExistsAsync(), Is.True);
        try
        {
            Assert.That(cluster!.Embedded, Is.Not.Null);
            Assert.That(File.Exists(Path.Combine(dataDirectory, "pgsql", "PG_VERSION")), "the cluster lives in the data directory");
            await using (var connection = new NpgsqlConnection(cluster.ConnectionString))
            {
                Assert.That(await connection.ExecuteScalarAsync<string>("SELECT current_database()"), Is.EqualTo("kit"));
                Assert.That(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM schemaversions"), Is.EqualTo(Migrator.KnownScripts.Count));
            }
            Assert.That(cluster.Embedded!.IsRunning(), Is.True);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await app.StopAsync();
            await app.DisposeAsync();
        }
        Assert.That(cluster.Embedded!.IsRunning(), Is.False, "the embedded PostgreSQL stops with the server");
        try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
