using Dapper;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Commands;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>
/// X1: backup, then restore into an empty database, gives back the same data. The backup file holds the Data
/// Protection key ring, so only its owner reads it.
/// </summary>
public class BackupTests : LicenseTestBase
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode WorldReadable = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static async Task<string> SnapshotAsync(string connectionString)
    {
        await using var db = new NpgsqlConnection(connectionString);
        return await db.ExecuteScalarAsync<string>("""
            SELECT concat_ws(' | ',
              (SELECT string_agg(concat_ws(',', id, email, password, password_encrypted, disabled), ';' ORDER BY id) FROM user_account),
              (SELECT string_agg(concat_ws(',', id, name), ';' ORDER BY id) FROM organization),
              (SELECT string_agg(concat_ws(',', organization_id, user_id, role), ';' ORDER BY 1, 2) FROM organization_member),
              (SELECT string_agg(concat_ws(',', license_id, customer, file_text), ';') FROM server_license),
              (SELECT string_agg(concat_ws(',', code, quota), ';' ORDER BY code) FROM licensed_product),
              (SELECT string_agg(concat_ws(',', organization_id, product_code, quota), ';' ORDER BY 1, 2) FROM product_allocation),
              (SELECT string_agg(concat_ws(',', organization_id, product_code, user_id), ';' ORDER BY 1, 2, 3) FROM license_assignment),
              (SELECT string_agg(concat_ws(',', installation_id, server_public_key), ';') FROM installation),
              (SELECT count(*) FROM data_protection_key))
            """) ?? "";
    }

    [Test]
    public async Task Backup_then_restore_into_an_empty_database_gives_back_the_same_data()
    {
        var users = await MembersAsync(3);
        using (await AssignAsync(Admin, string.Join(",", users))) { }
        var pluginFile = Path.Combine(Server.DataDirectory, "plugins", "ab", "abcdef.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(pluginFile)!);
        await File.WriteAllTextAsync(pluginFile, "plugin bytes");
        var before = await SnapshotAsync(Server.ConnectionString);

        var backup = Path.Combine(Path.GetTempPath(), $"kit-{Guid.NewGuid():N}.tar.gz");
        Assert.That(await KitCommands.RunAsync(["backup", "--out", backup, .. TestServer.Arguments(Server.ConnectionString, Server.DataDirectory)]), Is.Zero);
        Assert.That(File.Exists(backup));

        var empty = PostgresFixture.CreateDatabase();
        var otherData = Path.Combine(Path.GetTempPath(), "kit-restored-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.That(await KitCommands.RunAsync(["restore", "--file", backup, .. TestServer.Arguments(empty, otherData)]), Is.Zero);

        Assert.That(await SnapshotAsync(empty), Is.EqualTo(before));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(otherData, "plugins", "ab", "abcdef.zip")), Is.EqualTo("plugin bytes"));

        await using var restored = await TestServer.StartAsync(empty, otherData);
        using var client = new ConsoleClient(restored.BaseUrl);
        using (var signIn = await client.SignInAsync(AdminEmail, Password))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/"), "the restored server signs its users in");

        Assert.That(await KitCommands.RunAsync(["restore", "--file", backup, .. TestServer.Arguments(empty, otherData)]), Is.EqualTo(1),
            "a database that holds data is not overwritten without --replace");
        File.Delete(backup);
    }

    [Test]
    public async Task Restoring_something_that_is_not_a_backup_changes_nothing()
    {
        var bogus = Path.Combine(Path.GetTempPath(), $"kit-{Guid.NewGuid():N}.tar.gz");
        await File.WriteAllTextAsync(bogus, "not a backup");
        var empty = PostgresFixture.CreateDatabase();
        Assert.That(await KitCommands.RunAsync(["restore", "--file", bogus, .. TestServer.Arguments(empty, Path.GetTempPath())]), Is.Not.Zero);
        await using var db = new NpgsqlConnection(empty);
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), Is.Zero);
        File.Delete(bogus);
    }

    [Test]
    public async Task The_backup_file_is_readable_by_its_owner_only()
    {
        if (OperatingSystem.IsWindows()) { Assert.Ignore("On Windows the folder's access rules decide who reads the backup."); return; }
        var backup = await BackupAsync();
        Assert.That(File.GetUnixFileMode(backup), Is.EqualTo(OwnerOnly));

        // Replacing a world-readable backup, with a world-readable .partial left over from an interrupted run.
        File.SetUnixFileMode(backup, WorldReadable);
        await File.WriteAllTextAsync(backup + ".partial", "left over");
        File.SetUnixFileMode(backup + ".partial", WorldReadable);
        Assert.That(await KitCommands.RunAsync(["backup", "--out", backup, .. TestServer.Arguments(Server.ConnectionString, Server.DataDirectory)]), Is.Zero);
        Assert.That(File.GetUnixFileMode(backup), Is.EqualTo(OwnerOnly), "the replaced backup");
        Assert.That(File.Exists(backup + ".partial"), Is.False);
        File.Delete(backup);
    }

    private async Task<string> BackupAsync()
    {
        var backup = Path.Combine(Path.GetTempPath(), $"kit-{Guid.NewGuid():N}.tar.gz");
        Assert.That(await KitCommands.RunAsync(["backup", "--out", backup, .. TestServer.Arguments(Server.ConnectionString, Server.DataDirectory)]), Is.Zero);
        return backup;
    }
}
