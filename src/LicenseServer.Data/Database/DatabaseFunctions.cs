using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LicenseServer.Data.Database;

/// <summary>
/// The database's functions and types: one file each in db-migrations/functions/ (embedded in this assembly), holding
/// its current definition, so that what a rule does today is read in one place rather than worked out from the
/// migrations that replaced it. They are applied after the numbered migrations, types first, then functions, each in
/// name order, and only when a file's text differs from the text it was last applied from (the SHA-256 in
/// function_script). Numbered migrations hold schema and data changes only.
/// </summary>
public static class DatabaseFunctions
{
    private const string ResourcePrefix = "db-functions.";
    private const string TypeSuffix = ".type.sql";

    /// <summary>Every file, in the order it is applied: its name (kit_checkout_decide.sql) and its text.</summary>
    public static IReadOnlyList<(string Name, string Text)> Scripts { get; } = typeof(DatabaseFunctions).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
        .Select(n => (Name: n[ResourcePrefix.Length..], Text: Read(n)))
        .OrderBy(s => s.Name.EndsWith(TypeSuffix, StringComparison.Ordinal) ? 0 : 1)
        .ThenBy(s => s.Name, StringComparer.Ordinal)
        .ToArray();

    /// <summary>Applies every file whose text changed since it was last applied, in one transaction; returns their names.</summary>
    public static IReadOnlyList<string> Apply(string connectionString, ILogger logger)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var transaction = connection.BeginTransaction();
        // Nodes that start together apply the files once, one after the other. Function bodies are checked when they
        // run, not when they are made, so the order of functions that call one another does not matter.
        connection.Execute("SELECT pg_advisory_xact_lock(hashtext('kit.database-functions')); SET LOCAL check_function_bodies = off;", transaction: transaction);
        var applied = connection.Query<(string Name, string Sha256)>("SELECT name, sha256 FROM function_script", transaction: transaction)
            .ToDictionary(r => r.Name, r => r.Sha256, StringComparer.Ordinal);
        var changed = new List<string>();
        foreach (var (name, text) in Scripts)
        {
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
            if (applied.GetValueOrDefault(name) == sha256) continue;
            logger.LogInformation("Applying the database definitions of {Script}", name);
            connection.Execute(text, transaction: transaction);
            connection.Execute("""
                INSERT INTO function_script (name, sha256) VALUES (@name, @sha256)
                ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, applied_at = now()
                """, new { name, sha256 }, transaction);
            changed.Add(name);
        }
        transaction.Commit();
        return changed;
    }

    private static string Read(string resource)
    {
        using var stream = typeof(DatabaseFunctions).Assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
