using DbUp;
using DbUp.Engine.Output;
using Microsoft.Extensions.Logging;

namespace LicenseServer.Data.Database;

public sealed class NewerSchemaException(string message) : Exception(message);

/// <summary>
/// Applies the numbered scripts of db-migrations/ (embedded in this assembly) with DbUp, each in a transaction,
/// journaled in public.schemaversions, then the database functions of db-migrations/functions/ that changed
/// (<see cref="DatabaseFunctions"/>). Refuses a database that has numbered scripts this build does not know.
/// </summary>
public static class Migrator
{
    private const string ResourcePrefix = "db-migrations.";

    public static IReadOnlyList<string> KnownScripts { get; } = typeof(Migrator).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
        .Order(StringComparer.Ordinal).ToArray();

    /// <summary>Returns the names of the scripts and function files it applied (none when the database was up to date).</summary>
    public static IReadOnlyList<string> Migrate(string connectionString, ILogger logger)
    {
        var upgrader = DeployChanges.To.PostgresqlDatabase(connectionString)
            .WithScriptsEmbeddedInAssembly(typeof(Migrator).Assembly, n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogTo(new DbUpLog(logger))
            .Build();

        var unknown = upgrader.GetExecutedScripts().Except(KnownScripts, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new NewerSchemaException(
                $"The database was migrated by a newer Kit License Server (it has {string.Join(", ", unknown)}, which this version does not know). " +
                "Refusing to start: install that newer version, or restore a backup made with this one.");

        var result = upgrader.PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed: {result.Error?.Message}", result.Error);
        return [.. result.Scripts.Select(s => s.Name), .. DatabaseFunctions.Apply(connectionString, logger)];
    }

    private sealed class DbUpLog(ILogger logger) : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) => logger.LogTrace(format, args);
        public void LogDebug(string format, params object[] args) => logger.LogDebug(format, args);
        public void LogInformation(string format, params object[] args) => logger.LogInformation(format, args);
        public void LogWarning(string format, params object[] args) => logger.LogWarning(format, args);
        public void LogError(string format, params object[] args) => logger.LogError(format, args);
        public void LogError(Exception ex, string format, params object[] args) => logger.LogError(ex, format, args);
    }
}
