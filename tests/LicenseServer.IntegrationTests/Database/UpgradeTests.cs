using Dapper;
using DbUp;
using LicenseServer.Data.Database;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>What a migration does to the data an older version stored.</summary>
public class UpgradeTests
{
    /// <summary>A new database with the migrations before <paramref name="script"/> applied, as an older version left it.</summary>
    private static string DatabaseBefore(string script)
    {
        var connectionString = PostgresFixture.CreateDatabase();
        var result = DeployChanges.To.PostgresqlDatabase(connectionString)
            .WithScriptsEmbeddedInAssembly(typeof(Migrator).Assembly,
                n => n.StartsWith("db-migrations.", StringComparison.Ordinal) && string.CompareOrdinal(n, "db-migrations." + script) < 0)
            .WithTransactionPerScript().LogToNowhere().Build().PerformUpgrade();
        Assert.That(result.Successful, Is.True, result.Error?.Message);
        return connectionString;
    }

    [Test]
    public async Task Offline_packages_of_organizations_become_the_servers_one_per_version_and_accounts_reset_by_SQL_lose_their_sessions()
    {
        var connectionString = DatabaseBefore("0023");
        Guid plainStamp, hashedStamp;
        await using (var db = new NpgsqlConnection(connectionString))
        {
            var admin = await db.ExecuteScalarAsync<long>("INSERT INTO user_account (email, password, password_encrypted) VALUES ('admin@acme.test', 'x', true) RETURNING id");
            await db.ExecuteAsync("INSERT INTO user_account (email, password, password_encrypted) VALUES ('reset@acme.test', 'plain-by-sql', false)");
            plainStamp = await db.ExecuteScalarAsync<Guid>("SELECT security_stamp FROM user_account WHERE email = 'reset@acme.test'");
            hashedStamp = await db.ExecuteScalarAsync<Guid>("SELECT security_stamp FROM user_account WHERE email = 'admin@acme.test'");
            var orgs = new List<long>();
            foreach (var name in new[] { "A", "B", "C" })
                orgs.Add(await db.ExecuteScalarAsync<long>("INSERT INTO organization (name, created_by) VALUES (@name, @admin) RETURNING id", new { name, admin }));
            // As the old version let each organization mark its upload offline: B uploaded a copy of A's, C other bytes.
            foreach (var (org, kind, plugin, sha, daysAgo) in new[]
                     {
                         (orgs[0], "offline", "com.vendor.store", "aa", 3), (orgs[1], "offline", "com.vendor.store", "aa", 2),
                         (orgs[2], "offline", "com.vendor.store", "bb", 1), (orgs[0], "private", "com.acme.tool", "cc", 1),
                     })
                await db.ExecuteAsync("""
                    INSERT INTO plugin_package (organization_id, plugin_id, name, version, compatible, kind, sha256, size_bytes, uploaded_by, uploaded_at)
                    VALUES (@org, @plugin, 'Plugin', '1.0.0', '>=1', @kind, @sha, 10, @admin, now() - make_interval(days => @daysAgo))
                    """, new { org, kind, plugin, sha = sha.PadRight(64, '0'), admin, daysAgo });
        }

        Assert.That(Migrator.Migrate(connectionString, NullLogger.Instance), Does.Contain("db-migrations.0023_server_settings.sql"));

        await using var after = new NpgsqlConnection(connectionString);
        var rows = (await after.QueryAsync<(string Plugin, string? Org, string Kind, string Sha)>("""
            SELECT p.plugin_id, o.name, p.kind, left(p.sha256, 2) FROM plugin_package p LEFT JOIN organization o ON o.id = p.organization_id ORDER BY p.plugin_id, p.id
            """)).ToList();
        Assert.That(rows, Is.EqualTo(new[]
        {
            ("com.acme.tool", (string?)"A", "private", "cc"),
            ("com.vendor.store", null, "offline", "aa"),
            ("com.vendor.store", "C", "private", "bb"),
        }), "the first offline upload is the server's, a copy is gone, other bytes stay their organization's, private");
        Assert.That(await after.ExecuteScalarAsync<Guid>("SELECT security_stamp FROM user_account WHERE email = 'reset@acme.test'"), Is.Not.EqualTo(plainStamp),
            "an account reset by SQL before the upgrade loses the sessions and tokens issued before");
        Assert.That(await after.ExecuteScalarAsync<Guid>("SELECT security_stamp FROM user_account WHERE email = 'admin@acme.test'"), Is.EqualTo(hashedStamp));
        Assert.That(await after.ExecuteScalarAsync<string>("SELECT organization_creation FROM server_settings"), Is.EqualTo("server_admins"),
            "after an upgrade, only server admins create organizations until one allows everyone");
        var duplicate = Assert.ThrowsAsync<PostgresException>(() => after.ExecuteAsync("""
            INSERT INTO plugin_package (organization_id, plugin_id, name, version, compatible, kind, sha256, size_bytes, uploaded_by)
            SELECT NULL, 'com.vendor.store', 'Plugin', '1.0.0', '>=1', 'offline', repeat('d', 64), 10, id FROM user_account LIMIT 1
            """))!;
        Assert.That(duplicate.SqlState, Is.EqualTo(PostgresErrorCodes.UniqueViolation), "the database itself keeps one offline package per version");
    }
}
