using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using LicenseServer.Data.Operations;
using LicenseServer.Data.Organizations;
using LicenseServer.Data.Plugins;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Plugins;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Commands;
using LicenseServer.Web.Licenses;
using Npgsql;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>
/// Backup, then restore into an empty database, gives back the same data. The backup file holds the Data
/// Protection key ring, so only its owner reads it; restore refuses an archive this server did not write
/// before it touches the database or the data directory.
/// </summary>
public class BackupTests : LicenseTest
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode WorldReadable = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const string NotOurs = "is not a backup this server wrote, or it has been altered";

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
              (SELECT count(*) FROM data_protection_key),
              (SELECT string_agg(concat_ws(',', plugin_id, version, sha256, size_bytes), ';' ORDER BY id) FROM plugin_package),
              (SELECT string_agg(concat_ws(',', sha256, n, md5(bytes)), ';' ORDER BY sha256, n) FROM plugin_chunk))
            """) ?? "";
    }

    [Test]
    public async Task Backup_then_restore_into_an_empty_database_gives_back_the_same_data()
    {
        var users = await MembersAsync(3);
        using (await AssignAsync(Admin, string.Join(",", users))) { }
        // A package of two chunks: its bytes are in the database, so the dump holds them.
        var package = PluginTests.Package(PluginTests.Manifest(), ("lib/slack.jar", RandomNumberGenerator.GetBytes(1536 * 1024)));
        await Server.Service<PluginStore>().StoreAsync(Org, new MemoryStream(package), 2 * 1024 * 1024, await UserIdAsync(AdminEmail));
        var key = await Members.EngineKeyAsync(Server, 
            (await Server.Service<OrganizationRepository>().MembershipAsync(Org, await UserIdAsync(AdminEmail)))!, "plugins");
        var before = await SnapshotAsync(Server.ConnectionString);

        var backup = Path.Combine(Path.GetTempPath(), $"kit-{Guid.NewGuid():N}.tar.gz");
        Assert.That(await KitCommands.RunAsync(["backup", "--out", backup, .. TestServer.Arguments(Server.ConnectionString, Server.DataDirectory)]), Is.Zero);
        Assert.That(File.Exists(backup));
        Assert.That(EntriesOf(backup).Where(e => e.StartsWith("data/plugins", StringComparison.Ordinal)), Is.Empty, "the packages are in the dump, not beside it");

        var empty = PostgresFixture.CreateDatabase();
        var otherData = Path.Combine(Path.GetTempPath(), "kit-restored-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.That(await KitCommands.RunAsync(["restore", "--file", backup, .. TestServer.Arguments(empty, otherData)]), Is.Zero);

        Assert.That(await SnapshotAsync(empty), Is.EqualTo(before));
        Assert.That(Directory.Exists(Path.Combine(otherData, "plugins")), Is.False);

        // The backup holds the database, not the secrets key file: without a copy of it the restored server cannot start.
        var refused = Assert.ThrowsAsync<LicenseServer.Web.Hosting.StartupException>(() => TestServer.StartAsync(empty, otherData))!;
        Assert.That(refused.Message, Does.Contain("does not exist, but this database's secrets are encrypted"));
        File.Copy(TestServer.SecretsKeyFile(Server.ConnectionString, Server.DataDirectory), TestServer.SecretsKeyFile(empty, otherData));
        await using var restored = await TestServer.StartAsync(empty, otherData);
        using var client = new ConsoleClient(restored.BaseUrl);
        using (var signIn = await client.SignInAsync(AdminEmail, Password))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/"), "the restored server signs its users in");
        Assert.That(await UpgradeTests.DownloadAsync(restored.BaseUrl, key, "com.acme.slack"), Is.EqualTo((HttpStatusCode.OK, PluginTests.Digest(package))), "and serves the packages");

        Assert.That(await KitCommands.RunAsync(["restore", "--file", backup, .. TestServer.Arguments(empty, otherData)]), Is.EqualTo(1),
            "a database that holds data is not overwritten without --replace");
        File.Delete(backup);
    }

    [Test]
    public async Task An_older_backup_that_holds_package_files_restores_and_its_packages_move_into_the_database_at_the_next_start()
    {
        // The database of a version that kept package bytes in the data directory, and its backup: the dump, and the plugins folder beside it.
        var older = UpgradeTests.DatabaseBefore("0028");
        var olderData = NewDataDirectory();
        var package = PluginTests.Package(PluginTests.Manifest("com.acme.kept"), ("lib/kept.jar", RandomNumberGenerator.GetBytes(64 * 1024)));
        var key = await UpgradeTests.OlderPackagesAsync(older, olderData, ("com.acme.kept", package, null));
        var file = UpgradeTests.LegacyFile(olderData, package);
        var written = Path.Combine(Path.GetTempPath(), $"kit-older-{Guid.NewGuid():N}.tar.gz");
        Backup.Create(older, olderData, written, "0.9.0", null);
        var olderBackup = await CraftFromAsync(written, manifest => JsonSerializer.Serialize(JsonSerializer.Deserialize<Backup.Manifest>(manifest)! with { DataFolders = ["plugins"] }),
            DirectoryEntry("data/plugins/"), new PaxTarEntry(TarEntryType.RegularFile, "data/" + Path.GetRelativePath(olderData, file).Replace('\\', '/')) { DataStream = new MemoryStream(package) });

        var empty = PostgresFixture.CreateDatabase();
        var restoredData = NewDataDirectory();
        Assert.That(await KitCommands.RunAsync(["restore", "--file", olderBackup, .. TestServer.Arguments(empty, restoredData)]), Is.Zero);
        var restoredFile = UpgradeTests.LegacyFile(restoredData, package);
        Assert.That(File.Exists(restoredFile), "restore puts the files back where the older version kept them");

        // The first start migrates and moves them into the database; every node serves them from there.
        await using (await TestServer.StartAsync(empty, restoredData)) { }
        Assert.That(File.Exists(restoredFile), Is.False, "the file moved into the database");
        await using var other = await TestServer.StartAsync(empty);
        Assert.That(await UpgradeTests.DownloadAsync(other.BaseUrl, key, "com.acme.kept"), Is.EqualTo((HttpStatusCode.OK, PluginTests.Digest(package))));
        File.Delete(olderBackup);
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

    [Test, NonParallelizable] // reads the process's Console.Error
    public async Task Restore_refuses_a_data_folder_that_climbs_out_of_the_data_directory()
    {
        var place = Directory.CreateTempSubdirectory("kit-restore-place-");
        var sentinel = Path.Combine(place.FullName, "victim", "sentinel.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(sentinel)!);
        await File.WriteAllTextAsync(sentinel, "still here");
        // "victim/" sits beside data/ in the archive: without the check, restore deletes place/victim and writes this there.
        var crafted = await CraftAsync(["../victim"], FileEntry("victim/planted.txt", "written by the archive"));

        using (Assert.EnterMultipleScope())
        {
            await AssertRefusedAsync(crafted, Path.Combine(place.FullName, "data"), "\"../victim\"");
            Assert.That(File.Exists(sentinel) ? await File.ReadAllTextAsync(sentinel) : "deleted", Is.EqualTo("still here"));
            Assert.That(File.Exists(Path.Combine(place.FullName, "victim", "planted.txt")), Is.False, "the archive wrote outside the data directory");
        }
        place.Delete(recursive: true);
    }

    [Test, NonParallelizable] // reads the process's Console.Error
    public async Task Restore_refuses_a_data_folder_given_as_an_absolute_path()
    {
        var victim = Directory.CreateTempSubdirectory("kit-restore-victim-");
        var sentinel = Path.Combine(victim.FullName, "sentinel.txt");
        await File.WriteAllTextAsync(sentinel, "still here");
        var crafted = await CraftAsync([victim.FullName]);

        using (Assert.EnterMultipleScope())
        {
            await AssertRefusedAsync(crafted, NewDataDirectory(), $"\"{victim.FullName}\"");
            Assert.That(File.Exists(sentinel) ? await File.ReadAllTextAsync(sentinel) : "deleted", Is.EqualTo("still here"));
            Assert.That(Directory.GetFileSystemEntries(victim.FullName), Is.EqualTo(new[] { sentinel }));
        }
        victim.Delete(recursive: true);
    }

    [Test, NonParallelizable] // reads the process's Console.Error
    public async Task Restore_refuses_a_data_folder_named_twice()
    {
        var crafted = await CraftAsync(["keys", "keys"], DirectoryEntry("data/keys/"));
        await AssertRefusedAsync(crafted, NewDataDirectory(), "\"keys\"");
    }

    [TestCase("this is not JSON")]
    [TestCase("null")]
    [TestCase("{}")]
    [NonParallelizable] // reads the process's Console.Error
    public async Task Restore_refuses_a_manifest_it_cannot_read(string manifest)
    {
        var crafted = await CraftAsync(manifest);
        await AssertRefusedAsync(crafted, NewDataDirectory(), "manifest");
    }

    [TestCase("symbolic link")]
    [TestCase("hard link")]
    [TestCase("relative path")]
    [TestCase("absolute path")]
    [NonParallelizable] // reads the process's Console.Error
    public async Task Restore_refuses_an_entry_that_leads_out_of_the_archive(string kind)
    {
        // The keys folder as a link to a folder outside, a key file as a hard link to a file outside, or a file
        // whose name puts it outside (the restore's work folder and this one both sit in the temp folder).
        var outside = Directory.CreateTempSubdirectory("kit-restore-outside-");
        var secret = Path.Combine(outside.FullName, "secret.xml");
        await File.WriteAllTextAsync(secret, "not for the archive");
        TarEntry[] entries = kind switch
        {
            "symbolic link" => [DirectoryEntry("data/"), new PaxTarEntry(TarEntryType.SymbolicLink, "data/keys") { LinkName = outside.FullName }],
            "hard link" => [DirectoryEntry("data/keys/"), new PaxTarEntry(TarEntryType.HardLink, "data/keys/secret.xml") { LinkName = secret }],
            "relative path" => [DirectoryEntry("data/keys/"), FileEntry($"data/keys/../../../{outside.Name}/planted.xml", "planted")],
            _ => [DirectoryEntry("data/keys/"), FileEntry(Path.Combine(outside.FullName, "planted.xml"), "planted")],
        };
        var crafted = await CraftAsync(["keys"], entries);

        using (Assert.EnterMultipleScope())
        {
            await AssertRefusedAsync(crafted, NewDataDirectory(), kind.EndsWith("link") ? "data/keys" : "planted.xml");
            Assert.That(await File.ReadAllTextAsync(secret), Is.EqualTo("not for the archive"));
            Assert.That(Directory.GetFileSystemEntries(outside.FullName), Is.EqualTo(new[] { secret }), "nothing was written outside");
        }
        outside.Delete(recursive: true);
    }

    private async Task<string> BackupAsync()
    {
        var backup = Path.Combine(Path.GetTempPath(), $"kit-{Guid.NewGuid():N}.tar.gz");
        Assert.That(await KitCommands.RunAsync(["backup", "--out", backup, .. TestServer.Arguments(Server.ConnectionString, Server.DataDirectory)]), Is.Zero);
        return backup;
    }

    private static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "kit-restored-" + Guid.NewGuid().ToString("N")[..8]);

    private Task<string> CraftAsync(string[] dataFolders, params TarEntry[] entries) => CraftAsync(manifest => JsonSerializer.Serialize(
        JsonSerializer.Deserialize<Backup.Manifest>(manifest)! with { DataFolders = dataFolders }), entries);

    private Task<string> CraftAsync(string manifest) => CraftAsync(_ => manifest);

    /// <summary>An archive with a real backup's database dump, the manifest <paramref name="manifest"/> makes of the real one, and <paramref name="entries"/>.</summary>
    private async Task<string> CraftAsync(Func<string, string> manifest, params TarEntry[] entries) => await CraftFromAsync(await BackupAsync(), manifest, entries);

    /// <summary>As <see cref="CraftAsync(Func{string, string}, TarEntry[])"/>, from <paramref name="backup"/> (which it deletes).</summary>
    private static async Task<string> CraftFromAsync(string backup, Func<string, string> manifest, params TarEntry[] entries)
    {
        var crafted = Path.Combine(Path.GetTempPath(), $"kit-crafted-{Guid.NewGuid():N}.tar.gz");
        await using (var input = new GZipStream(File.OpenRead(backup), CompressionMode.Decompress))
        await using (var output = new GZipStream(File.Create(crafted), CompressionLevel.Fastest))
        {
            using var reader = new TarReader(input);
            using var writer = new TarWriter(output, TarEntryFormat.Pax);
            while (reader.GetNextEntry(copyData: true) is { } entry)
            {
                if (entry.Name == "kit.dump") writer.WriteEntry(entry);
                else if (entry.Name == "manifest.json") writer.WriteEntry(FileEntry("manifest.json", manifest(new StreamReader(entry.DataStream!).ReadToEnd())));
            }
            foreach (var entry in entries) writer.WriteEntry(entry);
        }
        File.Delete(backup);
        return crafted;
    }

    private static List<string> EntriesOf(string backup)
    {
        using var reader = new TarReader(new GZipStream(File.OpenRead(backup), CompressionMode.Decompress));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry) names.Add(entry.Name);
        return names;
    }

    private static PaxTarEntry FileEntry(string name, string text) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) };

    private static PaxTarEntry DirectoryEntry(string name) => new(TarEntryType.Directory, name);

    /// <summary>Restore refuses <paramref name="crafted"/> with a sentence naming <paramref name="named"/>, and the target database stays empty.</summary>
    private static async Task AssertRefusedAsync(string crafted, string dataDirectory, string named)
    {
        var empty = PostgresFixture.CreateDatabase();
        var error = new StringWriter();
        var console = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = await KitCommands.RunAsync(["restore", "--file", crafted, .. TestServer.Arguments(empty, dataDirectory)]);
        }
        finally
        {
            Console.SetError(console);
        }
        Assert.That(code, Is.EqualTo(1), error.ToString());
        Assert.That(error.ToString(), Does.Contain(NotOurs).And.Contain(named));
        await using var db = new NpgsqlConnection(empty);
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), Is.Zero, "the database was not touched");
        foreach (var folder in Backup.RestorableFolders)
            Assert.That(Directory.Exists(Path.Combine(dataDirectory, folder)), Is.False, $"no {folder} folder was written");
        File.Delete(crafted);
    }
}
