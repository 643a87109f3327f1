using System.Net;
using System.Security.Cryptography;
using Dapper;
using DbUp;
using LicenseServer.Data.Database;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Plugins;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>What a migration does to the data an older version stored.</summary>
public class UpgradeTests
{
    /// <summary>A new database with the migrations before <paramref name="script"/> applied, as an older version left it.</summary>
    internal static string DatabaseBefore(string script)
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

    [Test]
    public async Task Organizations_of_an_older_version_keep_letting_every_member_check_out_and_new_ones_start_with_assigned_members_only()
    {
        var connectionString = DatabaseBefore("0031");
        await using (var db = new NpgsqlConnection(connectionString))
        {
            var admin = await db.ExecuteScalarAsync<long>("INSERT INTO user_account (email, password, password_encrypted) VALUES ('admin@acme.test', 'x', true) RETURNING id");
            await db.ExecuteAsync("INSERT INTO organization (name, created_by) VALUES ('Older', @admin)", new { admin });
        }
        Assert.That(Migrator.Migrate(connectionString, NullLogger.Instance), Does.Contain("db-migrations.0031_floating_assignment.sql"));

        await using var after = new NpgsqlConnection(connectionString);
        await after.ExecuteAsync("INSERT INTO organization (name, created_by) SELECT 'Newer', id FROM user_account");
        Assert.That((await after.QueryAsync<(string, bool)>("SELECT name, floating_assigned_only FROM organization ORDER BY id")).ToList(),
            Is.EqualTo(new[] { ("Older", false), ("Newer", true) }));
    }

    /// <summary>
    /// Rows of <paramref name="packages"/>, of an admin's organization, as a version that kept package bytes in its data directory left
    /// them (plugins/aa/sha.zip); each file holds <c>Bytes</c>, or <c>OnDisk</c> where that differs. The API key of a member.
    /// </summary>
    internal static async Task<string> OlderPackagesAsync(string connectionString, string dataDirectory, params (string Id, byte[] Bytes, byte[]? OnDisk)[] packages)
    {
        long org, admin;
        await using (var db = new NpgsqlConnection(connectionString))
        {
            admin = await db.ExecuteScalarAsync<long>("INSERT INTO user_account (email, password, password_encrypted) VALUES ('admin@acme.test', 'x', true) RETURNING id");
            org = await db.ExecuteScalarAsync<long>("INSERT INTO organization (name, created_by) VALUES ('ACME', @admin) RETURNING id", new { admin });
            await db.ExecuteAsync("INSERT INTO organization_member (organization_id, user_id, role) VALUES (@org, @admin, 'owner')", new { org, admin });
            foreach (var (id, bytes, onDisk) in packages)
            {
                var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
                await db.ExecuteAsync("""
                    INSERT INTO plugin_package (organization_id, plugin_id, name, version, compatible, kind, sha256, size_bytes, uploaded_by)
                    VALUES (@org, @id, 'Plugin', '1.0.0', '>=1', 'private', @sha, @size, @admin)
                    """, new { org, id, sha, size = (long)bytes.Length, admin });
                var file = Path.Combine(dataDirectory, "plugins", sha[..2], sha + ".zip");
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                await File.WriteAllBytesAsync(file, onDisk ?? bytes);
            }
        }
        return await ApiKeyAsync(connectionString, org, admin);
    }

    private static async Task<string> ApiKeyAsync(string connectionString, long org, long user)
    {
        var (key, prefix) = LicenseServer.Core.Security.ApiKeyToken.New();
        await using var db = new NpgsqlConnection(connectionString);
        await db.ExecuteAsync("INSERT INTO api_key (organization_id, user_id, name, prefix, key_hash) VALUES (@org, @user, 'plugins', @prefix, @hash)",
            new { org, user, prefix, hash = LicenseServer.Core.Security.ApiKeyToken.Hash(key) });
        return key;
    }

    internal static string LegacyFile(string dataDirectory, byte[] package)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(package));
        return Path.Combine(dataDirectory, "plugins", sha[..2], sha + ".zip");
    }

    /// <summary>Version 1.0.0 of <paramref name="pluginId"/>: its bytes as <see cref="PluginTests.Digest"/> shows them, or the text of a refusal.</summary>
    internal static async Task<(HttpStatusCode Status, string Body)> DownloadAsync(string baseUrl, string key, string pluginId)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/plugins/{pluginId}/1.0.0/download");
        request.Headers.Add("X-Api-Key", key);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, response.IsSuccessStatusCode ? PluginTests.Digest(await response.Content.ReadAsByteArrayAsync()) : await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Package_files_of_an_older_version_move_into_the_database_at_start_and_a_file_that_does_not_match_its_checksum_stays()
    {
        var connectionString = DatabaseBefore("0028");
        var dataDirectory = Path.Combine(Path.GetTempPath(), "kit-older-" + Guid.NewGuid().ToString("N")[..8]);
        var good = PluginTests.Package(PluginTests.Manifest("com.acme.good"), ("lib/good.jar", RandomNumberGenerator.GetBytes(1536 * 1024)));
        var bad = PluginTests.Package(PluginTests.Manifest("com.acme.bad"), ("lib/bad.jar", RandomNumberGenerator.GetBytes(4096)));
        var damaged = (byte[])bad.Clone();
        damaged[^100] ^= 0xff; // same size, other bytes: only the checksum tells
        var key = await OlderPackagesAsync(connectionString, dataDirectory, ("com.acme.good", good, null), ("com.acme.bad", bad, damaged));

        await using (var upgraded = await ServerProcess.StartInAsync(dataDirectory, connectionString, "--Kit:Logs:ConsoleLevel=Info"))
        {
            Assert.That(File.Exists(LegacyFile(dataDirectory, good)), Is.False, "the file that moved into the database is gone from the data directory");
            Assert.That(await File.ReadAllBytesAsync(LegacyFile(dataDirectory, bad)), Is.EqualTo(damaged), "a file that does not match its checksum is left where it was");
            Assert.That(upgraded.Output, Does.Contain("Moved 1 plugin package into the database"));
            Assert.That(upgraded.Output, Does.Contain($"does not match the SHA-256 of com.acme.bad 1.0.0"));
        }

        // Another node, with a data directory of its own, serves the package that moved; the other one is missing, and says so.
        await using var other = await TestServer.StartAsync(connectionString);
        Assert.That(await DownloadAsync(other.BaseUrl, key, "com.acme.good"), Is.EqualTo((HttpStatusCode.OK, PluginTests.Digest(good))));
        var (status, body) = await DownloadAsync(other.BaseUrl, key, "com.acme.bad");
        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(body, Does.Contain("\"plugin_file_missing\"").And.Contain("The package of com.acme.bad 1.0.0 is missing on the server"));

        // A package left without its bytes does not keep the installation from a backup and its restore.
        var backup = Path.Combine(Path.GetTempPath(), $"kit-{Guid.NewGuid():N}.tar.gz");
        Backup.Create(connectionString, other.DataDirectory, backup, "test", null);
        var restored = PostgresFixture.CreateDatabase();
        Backup.Restore(backup, restored, Path.Combine(Path.GetTempPath(), "kit-restored-" + Guid.NewGuid().ToString("N")[..8]), replace: false, null);
        File.Delete(backup);
        await using var check = new NpgsqlConnection(restored);
        Assert.That(await check.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_package p WHERE NOT EXISTS (SELECT 1 FROM plugin_blob b WHERE b.sha256 = p.sha256)"),
            Is.EqualTo(1));
    }
}
