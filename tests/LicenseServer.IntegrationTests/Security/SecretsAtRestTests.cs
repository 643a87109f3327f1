using Dapper;
using LicenseServer.Core.Security;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// The network and whoever reads a dump: the secrets the server keeps in its database (the Data Protection key
/// ring, and through it the server's private key and mail passwords) are encrypted with a key kept in a file
/// outside the database. A node needs that file, the same on every node.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SecretsAtRestTests : ConsoleTest
{
    private string KeyFile => TestServer.SecretsKeyFile(Server.ConnectionString, Server.DataDirectory);

    private async Task<List<string>> RingAsync()
    {
        await using var db = Db();
        return (await db.QueryAsync<string>("SELECT xml FROM data_protection_key")).ToList();
    }

    [Test]
    public async Task The_key_ring_in_the_database_is_encrypted_with_the_owner_only_key_file()
    {
        var ring = await RingAsync();
        Assert.That(ring, Is.Not.Empty);
        Assert.That(ring, Has.All.StartWith("kit-secret/1:").And.All.Not.Contain("masterKey"), "no master key readable in the database");
        Assert.That(File.GetUnixFileMode(KeyFile), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<string>("SELECT secrets_key_id FROM server_settings"), Is.EqualTo(SecretsKey.Read(KeyFile).Id));
    }

    [Test]
    public void A_node_without_the_key_file_or_with_another_one_stops_with_a_sentence()
    {
        var missing = Path.Combine(Path.GetTempPath(), "kit-no-such-" + Guid.NewGuid().ToString("N")[..8], "secrets.key");
        var e = Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(Server.ConnectionString, null, $"--Kit:Secrets:KeyFile={missing}"))!;
        Assert.That(e.Message, Does.Contain($"The secrets key file {missing} (Kit:Secrets:KeyFile) does not exist").And.Contain("Copy the file from the first node"));
        Assert.That(File.Exists(missing), Is.False, "a node never makes a new key for a ring that has one");

        var other = Path.Combine(Path.GetTempPath(), "kit-other-" + Guid.NewGuid().ToString("N")[..8] + ".key");
        SecretsKey.Create(other);
        var wrong = Assert.ThrowsAsync<StartupException>(() => TestServer.StartAsync(Server.ConnectionString, null, $"--Kit:Secrets:KeyFile={other}"))!;
        Assert.That(wrong.Message, Does.Contain("is not the one this database's secrets are encrypted with").And.Contain("Put the same file on every node"));
        File.Delete(other);
    }

    [Test]
    public async Task A_second_node_with_the_same_key_file_reads_the_server_key()
    {
        var first = await Server.Service<ActivationService>().ServerKeyAsync();
        await using var second = await TestServer.StartAsync(Server.ConnectionString);
        var key = await second.Service<ActivationService>().ServerKeyAsync();
        Assert.That(key.PublicKey, Is.EqualTo(first.PublicKey));
    }

    [Test]
    public async Task An_installation_from_before_the_key_file_moves_its_ring_under_a_new_one_at_start()
    {
        var serverKey = (await Server.Service<ActivationService>().ServerKeyAsync()).PublicKey;
        // The state an older version left: the ring in clear, no key id recorded, no key file.
        var secrets = SecretsKey.Read(KeyFile);
        await using (var db = Db())
        {
            foreach (var (name, xml) in await db.QueryAsync<(string, string)>("SELECT friendly_name, xml FROM data_protection_key"))
                await db.ExecuteAsync("UPDATE data_protection_key SET xml = @plain WHERE friendly_name = @name", new { name, plain = secrets.Decrypt(xml) });
            await db.ExecuteAsync("UPDATE server_settings SET secrets_key_id = NULL");
        }
        File.Delete(KeyFile);

        await using var upgraded = await TestServer.StartAsync(Server.ConnectionString);
        Assert.That((await upgraded.Service<ActivationService>().ServerKeyAsync()).PublicKey, Is.EqualTo(serverKey), "the server key still decrypts");
        Assert.That(File.Exists(KeyFile), "the upgrade made the key file");
        Assert.That(await RingAsync(), Has.All.StartWith("kit-secret/1:"), "and moved the ring under it");
    }
}
