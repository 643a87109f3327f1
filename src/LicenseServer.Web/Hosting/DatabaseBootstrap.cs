using LicenseServer.Data.Database;
using LicenseServer.Data.Operations;
using Npgsql;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Decides which PostgreSQL the server uses: the configured URL, or, with none, an embedded cluster in
/// the data directory. Checks its version, then migrates.
/// Every kit-server process (the server and each one-off command) records itself in the data directory. The
/// embedded cluster is started by the first process that needs it and stopped by the last one that ends, so a
/// backup or a password reset run beside the server leaves its database running; a cluster whose processes are
/// all gone (a crash) is used and then stopped like one the command started.
/// </summary>
public sealed class DatabaseBootstrap
{
    public const string DatabaseName = "kit";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(3); // a first start runs initdb, then waits up to 60 s for PostgreSQL

    private readonly DataDirectoryProcesses _processes;
    private IDisposable? _registration;

    private DatabaseBootstrap(string connectionString, PostgresCluster? embedded, DataDirectoryProcesses processes, IDisposable registration)
    {
        ConnectionString = connectionString;
        Embedded = embedded;
        _processes = processes;
        _registration = registration;
    }

    public string ConnectionString { get; }
    public PostgresCluster? Embedded { get; }

    /// <param name="role">What this process is: <see cref="DataDirectoryProcesses.Server"/>, or the one-off command's name.</param>
    public static DatabaseBootstrap Open(KitOptions options, ILogger logger, string role = DataDirectoryProcesses.Server)
    {
        var database = options.Database;
        var processes = new DataDirectoryProcesses(KitOptions.Resolve(options.DataDirectory));
        if (!string.IsNullOrWhiteSpace(database.Url))
        {
            var connectionString = DatabaseUrl.ToConnectionString(database.Url, database.Username, database.Password);
            logger.LogInformation("Using the database {Database}", DatabaseUrl.Describe(connectionString));
            RequireSupportedServer(connectionString);
            return new DatabaseBootstrap(connectionString, null, processes, processes.Register(role));
        }
        var cluster = new PostgresCluster(KitOptions.Resolve(options.DataDirectory), database.EmbeddedPort, logger,
            string.IsNullOrWhiteSpace(database.PostgresBinDirectory) ? null : database.PostgresBinDirectory);
        using (processes.Lock(LockTimeout))
        {
            var registration = processes.Register(role);
            try
            {
                cluster.Start();
                cluster.EnsureDatabase(DatabaseName);
            }
            catch
            {
                registration.Dispose();
                if (processes.Others().Count == 0) cluster.Stop();
                throw;
            }
            return new DatabaseBootstrap(cluster.ConnectionString(DatabaseName), cluster, processes, registration);
        }
    }

    /// <summary>Asks the configured server its version before anything migrates it; answers the version when it is recent enough.</summary>
    public static string RequireSupportedServer(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        string version;
        using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            connection.Open();
            version = connection.ServerVersion;
        }
        PostgresVersion.Require(version, $"the database at {DatabaseUrl.Describe(connectionString)}");
        return version;
    }

    public void Migrate(ILogger logger)
    {
        var applied = Migrator.Migrate(ConnectionString, logger);
        logger.LogInformation(applied.Count == 0 ? "The database schema is up to date" : "Applied {Count} migration(s): {Scripts}",
            applied.Count, string.Join(", ", applied));
    }

    /// <summary>The servers running on this data directory, other than this process.</summary>
    public IReadOnlyList<DataDirectoryProcesses.Entry> OtherServers() =>
        _processes.Others().Where(p => p.Role == DataDirectoryProcesses.Server).ToList();

    /// <summary>
    /// This process is done with the database: it stops the embedded cluster when no other kit-server process of
    /// the data directory is alive, and leaves it running for them otherwise. Called once; later calls do nothing.
    /// </summary>
    public void StopEmbedded()
    {
        if (Interlocked.Exchange(ref _registration, null) is not { } registration) return;
        if (Embedded is null)
        {
            registration.Dispose();
            return;
        }
        using (_processes.Lock(LockTimeout))
        {
            registration.Dispose();
            if (_processes.Others().Count == 0) Embedded.Stop();
        }
    }
}
