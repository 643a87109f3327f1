using LicenseServer.Data.Database;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Decides which PostgreSQL the server uses (I4, I5): the configured URL, or, with none, an embedded
/// cluster in the data directory that starts now and stops when the server stops. Then migrates.
/// </summary>
public sealed class DatabaseBootstrap
{
    public const string DatabaseName = "kit";

    private DatabaseBootstrap(string connectionString, PostgresCluster? embedded)
    {
        ConnectionString = connectionString;
        Embedded = embedded;
    }

    public string ConnectionString { get; }
    public PostgresCluster? Embedded { get; }

    public static DatabaseBootstrap Open(KitOptions options, ILogger logger)
    {
        var database = options.Database;
        if (!string.IsNullOrWhiteSpace(database.Url))
        {
            var connectionString = DatabaseUrl.ToConnectionString(database.Url, database.Username, database.Password);
            logger.LogInformation("Using the database {Database}", DatabaseUrl.Describe(connectionString));
            return new DatabaseBootstrap(connectionString, null);
        }
        var cluster = new PostgresCluster(KitOptions.Resolve(options.DataDirectory), database.EmbeddedPort, logger,
            string.IsNullOrWhiteSpace(database.PostgresBinDirectory) ? null : database.PostgresBinDirectory);
        cluster.Start();
        try
        {
            cluster.EnsureDatabase(DatabaseName);
        }
        catch
        {
            cluster.Stop();
            throw;
        }
        return new DatabaseBootstrap(cluster.ConnectionString(DatabaseName), cluster);
    }

    public void Migrate(ILogger logger)
    {
        var applied = Migrator.Migrate(ConnectionString, logger);
        logger.LogInformation(applied.Count == 0 ? "The database schema is up to date" : "Applied {Count} migration(s): {Scripts}",
            applied.Count, string.Join(", ", applied));
    }

    public void StopEmbedded() => Embedded?.Stop();
}
