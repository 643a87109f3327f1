using System.Security.Cryptography;
using Dapper;
using DbUp;
using LicenseServer.Data.Database;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>
/// Each database function and type is defined in one file of db-migrations/functions/, and every database, fresh or
/// upgraded, ends with exactly those definitions; landed numbered migrations never change.
/// </summary>
public class DatabaseFunctionTests
{
    /// <summary>The last numbered migration of the previous release: a database it made is what an upgrade starts from.</summary>
    private const string PreviousRelease = "db-migrations.0028_plugin_storage.sql";

    /// <summary>Every function and type of the schema, by name, with its full definition as PostgreSQL prints it.</summary>
    private static async Task<SortedDictionary<string, string>> DefinitionsAsync(string connectionString)
    {
        await using var db = new NpgsqlConnection(connectionString);
        var functions = await db.QueryAsync<(string Name, string Definition)>("""
            SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid)
            FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
            """);
        var types = await db.QueryAsync<(string Name, string Definition)>("""
            SELECT t.typname, string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
            FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c' JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
            WHERE t.typnamespace = 'public'::regnamespace
            GROUP BY t.typname
            """);
        return new SortedDictionary<string, string>(functions.Concat(types).ToDictionary(f => f.Name, f => f.Definition), StringComparer.Ordinal);
    }

    [Test]
    public async Task A_database_upgraded_from_the_previous_release_has_exactly_the_functions_and_types_of_a_fresh_one()
    {
        var upgraded = PostgresFixture.CreateDatabase();
        var previous = DeployChanges.To.PostgresqlDatabase(upgraded)
            .WithScriptsEmbeddedInAssembly(typeof(Migrator).Assembly,
                n => n.StartsWith("db-migrations.", StringComparison.Ordinal) && string.CompareOrdinal(n, PreviousRelease) <= 0)
            .WithTransactionPerScript().LogToNowhere().Build().PerformUpgrade();
        Assert.That(previous.Successful, previous.Error?.Message);
        Assert.That(Migrator.Migrate(upgraded, NullLogger.Instance), Is.Not.Empty, "the upgrade applies this version's migrations and functions");

        var fresh = PostgresFixture.CreateDatabase();
        Migrator.Migrate(fresh, NullLogger.Instance);

        var (before, after) = (await DefinitionsAsync(upgraded), await DefinitionsAsync(fresh));
        Assert.That(before.Keys, Is.EqualTo(after.Keys), "the same functions and types, none left over from an older version");
        foreach (var name in after.Keys) Assert.That(before[name], Is.EqualTo(after[name]), name);
    }

    [Test]
    public async Task Every_function_and_type_of_the_database_has_its_own_file_and_every_file_defines_one()
    {
        var inDatabase = (await DefinitionsAsync(PostgresFixture.CreateMigratedDatabase())).Keys.Select(k => k.Split('(')[0]).Distinct().Order(StringComparer.Ordinal);
        var files = DatabaseFunctions.Scripts.Select(s => s.Name.Replace(".type.sql", "").Replace(".sql", "")).Order(StringComparer.Ordinal);
        Assert.That(files, Is.EqualTo(inDatabase));
        foreach (var (name, text) in DatabaseFunctions.Scripts)
            Assert.That(text, Does.Contain(name.EndsWith(".type.sql") ? "CREATE TYPE " : "CREATE OR REPLACE FUNCTION "), name);
        Assert.That(Directory.GetFiles(RepoPaths.File("db-migrations/functions"), "*.sql").Select(Path.GetFileName),
            Is.EquivalentTo(DatabaseFunctions.Scripts.Select(s => s.Name)), "every file is embedded and applied");
    }

    [Test]
    public async Task A_function_file_is_applied_again_when_its_text_changed_and_not_otherwise()
    {
        var connectionString = PostgresFixture.CreateMigratedDatabase();
        Assert.That(Migrator.Migrate(connectionString, NullLogger.Instance), Is.Empty, "nothing changed: nothing is applied");

        // As after an upgrade whose file of kit_api_key_caller holds another text than the one last applied.
        await using (var db = new NpgsqlConnection(connectionString))
        {
            await db.ExecuteAsync("UPDATE function_script SET sha256 = 'an older text' WHERE name = 'kit_api_key_caller.sql'");
            await db.ExecuteAsync("DROP FUNCTION kit_api_key_caller(bytea)");
        }
        Assert.That(Migrator.Migrate(connectionString, NullLogger.Instance), Is.EqualTo(new[] { "kit_api_key_caller.sql" }));
        Assert.That((await DefinitionsAsync(connectionString)).Keys, Does.Contain("kit_api_key_caller(p_key_hash bytea)"), "made again from its file");
        Assert.That(Migrator.Migrate(connectionString, NullLogger.Instance), Is.Empty);
    }

    [Test]
    public void No_landed_migration_changes_or_disappears()
    {
        // A landed migration has run on customers' databases: a change to it would never reach them. Add new ones to
        // the list when they land; change a schema with a new migration, a function in its file.
        var landed = File.ReadAllLines(RepoPaths.File("tests/LicenseServer.IntegrationTests/Database/landed-migrations.sha256"))
            .Where(l => l.Length > 0).Select(l => l.Split("  ")).ToDictionary(p => p[1], p => p[0]);
        var scripts = Directory.GetFiles(RepoPaths.File("db-migrations"), "*.sql").ToDictionary(f => Path.GetFileName(f)!, f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))));
        foreach (var (name, sha256) in landed)
        {
            Assert.That(scripts.ContainsKey(name), $"{name} was removed");
            Assert.That(scripts[name], Is.EqualTo(sha256), $"{name} was changed after it landed");
        }
        Assert.That(scripts.Keys.Except(landed.Keys), Is.Empty, "a new migration is added to landed-migrations.sha256 when it lands");
    }
}
