using Dapper;
using Npgsql;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// A digest of every row of every table the server writes, so that a test can say "nothing changed"
/// without naming tables (a table added later is covered too), and name the ones that did change.
/// </summary>
public static class DatabaseSnapshot
{
    /// <summary>Written by the server on its own, whatever the requests: key ring, usage samples, the migration journal.</summary>
    private static readonly string[] Background = ["data_protection_key", "usage_sample", "schemaversions"];

    public static async Task<IReadOnlyDictionary<string, string>> TakeAsync(string connectionString, params string[] alsoIgnore)
    {
        await using var db = new NpgsqlConnection(connectionString);
        var tables = (await db.QueryAsync<string>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name")).AsList();
        Assert.That(tables, Has.Count.GreaterThan(20), "the snapshot sees the server's tables");
        var digests = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var table in tables.Except(Background).Except(alsoIgnore))
            digests[table] = await db.ExecuteScalarAsync<string>(
                $"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM public.\"{table}\" t") ?? "";
        return digests;
    }

    /// <summary>The tables whose rows differ between two snapshots.</summary>
    public static IReadOnlyList<string> Changed(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after) =>
        before.Keys.Union(after.Keys).Where(t => before.GetValueOrDefault(t) != after.GetValueOrDefault(t)).OrderBy(t => t, StringComparer.Ordinal).ToList();
}
