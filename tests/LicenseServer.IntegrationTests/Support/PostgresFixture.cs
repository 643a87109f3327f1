using LicenseServer.Data.Database;
using LicenseServer.Data.Operations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Testcontainers.PostgreSql;

namespace LicenseServer.IntegrationTests.Support;

// NUnit runs a [SetUpFixture] for the tests of its own namespace and below: this one serves them all.

/// <summary>
/// One real PostgreSQL for the whole run: a Testcontainers container where a Docker engine answers,
/// otherwise a throwaway cluster made with the machine's initdb/pg_ctl on a free port. Each test
/// gets its own database in it.
/// </summary>
public sealed class PostgresFixture
{
    private static PostgreSqlContainer? _container;
    private static PostgresCluster? _cluster;
    private static string _adminConnectionString = "";
    private static int _counter;

    public static string Kind { get; private set; } = "";

    public static async Task StartAsync()
    {
        if (DockerAnswers())
        {
            _container = new PostgreSqlBuilder("postgres:15").Build();
            await _container.StartAsync();
            _adminConnectionString = _container.GetConnectionString();
            Kind = "testcontainers";
        }
        else
        {
            // Tests run several server nodes against one cluster at once: room for their pools.
            _cluster = NewCluster(maxConnections: 300);
            _cluster.Start();
            _adminConnectionString = _cluster.ConnectionString("postgres");
            Kind = "initdb";
        }
        TestContext.Progress.WriteLine($"PostgreSQL for tests: {Kind}");
    }

    public static async Task StopAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_container is not null) await _container.DisposeAsync();
        if (_cluster is not null)
        {
            _cluster.Stop();
            try { Directory.Delete(_cluster.BaseDirectory, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A throwaway initdb cluster on a free port, not started yet, in a temporary folder the
    /// <c>postgres</c> user can reach (it runs the cluster when the tests run as root).
    /// </summary>
    public static PostgresCluster NewCluster(int maxConnections = 100)
    {
        var dir = Path.Combine(Path.GetTempPath(), "kit-tests-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                      UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return new PostgresCluster(dir, FreePort.Next(), NullLogger.Instance, maxConnections: maxConnections);
    }

    /// <summary>A new empty database; returns its connection string. For tests of migrations, restores and first starts.</summary>
    public static string CreateDatabase() => CreateDatabase(_adminConnectionString);

    /// <summary>A new empty database on the server of <paramref name="adminConnectionString"/>; returns its connection string.</summary>
    public static string CreateDatabase(string adminConnectionString) => Create(adminConnectionString, template: null);

    /// <summary>
    /// A new database with every migration applied and nothing else (no installation, no account): what a
    /// server's first start leaves before it makes its identity. A copy of a template migrated once per
    /// cluster, so that each test does not pay for all of db-migrations/ again; the server's own start still
    /// runs DbUp on it, which finds nothing to apply.
    /// </summary>
    public static string CreateMigratedDatabase() => CreateMigratedDatabase(_adminConnectionString);

    /// <inheritdoc cref="CreateMigratedDatabase()"/>
    public static string CreateMigratedDatabase(string adminConnectionString) =>
        Create(adminConnectionString, Templates.GetOrAdd(adminConnectionString, cs => new Lazy<string>(() => CreateTemplate(cs))).Value);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<string>> Templates = new();

    private static string CreateTemplate(string adminConnectionString)
    {
        var name = $"kit_template_{Guid.NewGuid().ToString("N")[..6]}";
        Execute(adminConnectionString, $"CREATE DATABASE {name}");
        // Unpooled: CREATE DATABASE ... TEMPLATE refuses a template that any session is connected to.
        var template = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name, Pooling = false }.ConnectionString;
        Migrator.Migrate(template, NullLogger.Instance);
        // No connection can reach it from now on, not even by mistake: it stays as the migrations left it.
        Execute(adminConnectionString, $"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true");
        return name;
    }

    private static string Create(string adminConnectionString, string? template)
    {
        var name = $"kit_test_{Interlocked.Increment(ref _counter)}_{Guid.NewGuid().ToString("N")[..6]}";
        Execute(adminConnectionString, template is null ? $"CREATE DATABASE {name}" : $"CREATE DATABASE {name} TEMPLATE {template}");
        return new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    private static void Execute(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private static bool DockerAnswers()
    {
        if (Environment.GetEnvironmentVariable("DOCKER_HOST") is null && !File.Exists("/var/run/docker.sock")) return false;
        try
        {
            var result = ProcessRunner.Run("docker", ["info", "--format", "{{.ServerVersion}}"], TimeSpan.FromSeconds(10));
            return result.ExitCode == 0;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }
}

public static class FreePort
{
    public static int Next()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
