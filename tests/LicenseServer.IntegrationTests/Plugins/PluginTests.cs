using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Plugins;

/// <summary>
/// Plugins: upload, list, download with checksum, visibility, duplicates, delete, hostile packages, and who owns
/// what every organization receives (offline packages are the server admin's; a version names one package).
/// </summary>
public class PluginTests : LicenseTest
{
    protected override string[] ServerSettings => ["--Kit:Plugins:MaxUploadMegabytes=1"];

    public static byte[] Package(string? manifest, params (string Name, byte[] Bytes)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            if (manifest is not null)
                using (var writer = new StreamWriter(zip.CreateEntry("plugin.json").Open())) writer.Write(manifest);
            foreach (var (name, bytes) in entries)
                using (var stream = zip.CreateEntry(name, CompressionLevel.SmallestSize).Open()) stream.Write(bytes);
        }
        return buffer.ToArray();
    }

    /// <summary>Bytes as a failed assertion should show them: by their SHA-256, not a few million numbers.</summary>
    public static string Digest(byte[] bytes) => $"{bytes.Length} bytes, SHA-256 {Convert.ToHexStringLower(SHA256.HashData(bytes))}";

    public static string Manifest(string id = "com.acme.slack", string version = "1.0.0") =>
        $$"""{"id":"{{id}}","name":"Slack Notifier","version":"{{version}}","compatible":">=7.2.2","description":"Posts results to Slack."}""";

    private string PluginsPage => $"/Organizations/{Org}/Plugins";

    private const string OfflinePage = "/Admin/Plugins";

    /// <summary>A private package of the organization (its Plugins page), or with <paramref name="page"/> = <see cref="OfflinePage"/> an offline one.</summary>
    /// <param name="kind">A kind field as the form once had it (an organization could mark its upload offline): it must change nothing.</param>
    private async Task<HttpResponseMessage> UploadAsync(ConsoleClient client, byte[] package, string? page = null, string? kind = null)
    {
        page ??= PluginsPage;
        var content = new MultipartFormDataContent
        {
            { new StringContent(await client.TokenAsync(page)), "__RequestVerificationToken" },
        };
        if (kind is not null) content.Add(new StringContent(kind), "kind");
        var file = new ByteArrayContent(package);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        content.Add(file, "package", "plugin.zip");
        return await client.PostRawAsync(page + "?handler=Upload", content);
    }

    /// <summary>Package rows, and copies of package bytes (in the database; none may be left in the data directory, not even a half upload).</summary>
    private async Task<(long Rows, long Blobs)> StoredAsync()
    {
        await using var db = Db();
        var root = Path.Combine(Server.DataDirectory, "plugins");
        Assert.That(Directory.Exists(root) ? Directory.GetFiles(root, "*", SearchOption.AllDirectories) : [], Is.Empty, "no file in the data directory");
        return await db.QuerySingleAsync<(long, long)>("SELECT (SELECT count(*) FROM plugin_package), (SELECT count(*) FROM plugin_blob)");
    }

    private async Task<KitClient> KeyClientAsync(string email, long org)
    {
        var userId = await UserIdAsync(email);
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(org, userId);
        return new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = await Server.Service<LicenseService>().CreateApiKeyAsync(membership!, "plugins") };
    }

    [Test]
    public async Task Upload_list_and_download_with_checksum_etag_and_ranges()
    {
        var package = Package(Manifest(), ("lib/slack.jar", Encoding.UTF8.GetBytes(new string('x', 5000))));
        using (var uploaded = await UploadAsync(Admin, package))
            Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(uploaded));
        var page = await Admin.GetTextAsync(PluginsPage + "?q=slack");
        Assert.That(page, Does.Contain("Slack Notifier").And.Contain("com.acme.slack").And.Contain("1.0.0"));

        await AddMemberAsync(Org, "runner@acme.test");
        using var client = await KeyClientAsync("runner@acme.test", Org);
        var plugins = await client.PluginsAsync();
        Assert.That(plugins.Single().Versions.Single().Sha256, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(package))));

        using var downloaded = new MemoryStream();
        var sha = await client.DownloadPluginAsync("com.acme.slack", "1.0.0", downloaded);
        Assert.That(downloaded.ToArray(), Is.EqualTo(package));
        Assert.That(sha, Is.EqualTo(plugins[0].Versions[0].Sha256));

        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var ranged = new HttpRequestMessage(HttpMethod.Get, "/api/v1/plugins/com.acme.slack/1.0.0/download");
        ranged.Headers.Add("X-Api-Key", client.ApiKey);
        ranged.Headers.Range = new RangeHeaderValue(10, 19);
        using var part = await http.SendAsync(ranged);
        Assert.That(part.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
        Assert.That(await part.Content.ReadAsByteArrayAsync(), Is.EqualTo(package[10..20]));
        Assert.That(part.Headers.ETag!.Tag, Is.EqualTo($"\"{sha}\""));

        using var cached = new HttpRequestMessage(HttpMethod.Get, "/api/v1/plugins/com.acme.slack/1.0.0/download");
        cached.Headers.Add("X-Api-Key", client.ApiKey);
        cached.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{sha}\""));
        using var notModified = await http.SendAsync(cached);
        Assert.That(notModified.StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
    }

    [Test]
    public async Task A_private_plugin_is_invisible_to_another_organization_and_an_offline_one_is_not()
    {
        using (await UploadAsync(Admin, Package(Manifest("com.acme.private")))) { }
        using (var offline = await UploadAsync(Admin, Package(Manifest("com.vendor.store")), OfflinePage))
            Assert.That(offline.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(offline));
        var otherOrg = await CreateOrganizationAsync(Admin, "Other");
        await AddMemberAsync(otherOrg, "other@acme.test", "owner");
        using var other = await KeyClientAsync("other@acme.test", otherOrg);

        var visible = await other.PluginsAsync();
        Assert.That(visible.Select(p => p.Id), Is.EqualTo(new[] { "com.vendor.store" }));
        var hidden = Assert.ThrowsAsync<KitApiException>(() => other.DownloadPluginAsync("com.acme.private", "1.0.0", Stream.Null))!;
        Assert.That((hidden.Status, hidden.Code), Is.EqualTo((404, "plugin_not_found")));

        using var mine = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await mine.LoginAsync(AdminEmail, Password);
        Assert.That((await mine.PluginsAsync()).Select(p => p.Id), Is.EquivalentTo(new[] { "com.acme.private", "com.vendor.store" }), "signed in, a member sees its organization's private plugins");
    }

    [Test]
    public async Task A_duplicate_version_is_refused_and_delete_removes_the_row_and_its_bytes()
    {
        using (await UploadAsync(Admin, Package(Manifest()))) { }
        using (var again = await UploadAsync(Admin, Package(Manifest(), ("other.txt", [1, 2, 3]))))
        {
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(again), Does.Contain("com.acme.slack 1.0.0 is in the repository already"));
        }
        Assert.That(await StoredAsync(), Is.EqualTo((1L, 1L)), "the refused upload left no bytes");

        long id;
        await using (var db = Db()) id = await db.ExecuteScalarAsync<long>("SELECT id FROM plugin_package");
        using (var deleted = await Admin.PostFormAsync(PluginsPage + "?handler=Delete", new Dictionary<string, string> { ["confirmed"] = "true", ["id"] = id.ToString() }, tokenPage: PluginsPage))
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await StoredAsync(), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task Hostile_packages_are_refused_with_a_clear_message_and_leave_nothing_behind()
    {
        var random = new byte[1536 * 1024];
        RandomNumberGenerator.Fill(random);
        var huge = new byte[3 * 1024 * 1024];
        var cases = new (string Name, byte[] Package, string Message)[]
        {
            ("not a zip", Encoding.UTF8.GetBytes("this is not a zip file at all"), "is not a .zip file"),
            ("no manifest", Package(null, ("readme.txt", [1])), "has no plugin.json"),
            ("bad version", Package(Manifest(version: "one.two")), "is not a version such as 1.2.0"),
            ("bad id", Package(Manifest(id: "../evil")), "id must be letters"),
            ("zip slip", Package(Manifest(), ("../../x", [1])), "points outside the package"),
            ("zip slip backslash", Package(Manifest(), ("..\\..\\x", [1])), "points outside the package"),
            ("zip bomb", Package(Manifest(), ("zeros.bin", new byte[40 * 1024 * 1024])), "zip bomb"),
            ("too large", random, "larger than the limit of 1 MB"),
            ("far too large", huge, "larger than the server accepts"),
        };
        foreach (var (name, package, message) in cases)
        {
            using var response = await UploadAsync(Admin, package);
            Assert.That((int)response.StatusCode, Is.EqualTo(400).Or.EqualTo(413), name);
            Assert.That(await ConsoleClient.TextOf(response), Does.Contain(message), name);
            Assert.That(await StoredAsync(), Is.EqualTo((0L, 0L)), $"{name}: nothing may be stored");
        }
    }

    [Test]
    public async Task A_Member_cannot_upload_or_delete_plugins()
    {
        await AddMemberAsync(Org, "member@acme.test");
        var member = await SignedInAsync("member@acme.test");
        using var response = await UploadAsync(member, Package(Manifest()));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await StoredAsync(), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task A_tenant_Owner_cannot_replace_the_vendors_offline_plugin_for_every_organization()
    {
        var vendor = Package(Manifest("com.vendor.store", "2.1.0"), ("lib/real.jar", Encoding.UTF8.GetBytes("the vendor's code")));
        using (var uploaded = await UploadAsync(Admin, vendor, OfflinePage))
            Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(uploaded));
        // The attacker owns an organization of their own; the victim is a member of another one.
        var evilOrg = await CreateOrganizationAsync(Admin, "Evil Inc");
        await AddMemberAsync(evilOrg, "owner@evil.test", "owner");
        var attacker = await SignedInAsync("owner@evil.test");
        await AddMemberAsync(Org, "runner@acme.test");
        var evil = Package(Manifest("com.vendor.store", "2.1.0"), ("lib/real.jar", Encoding.UTF8.GetBytes("the attacker's code")));
        var before = await StoredAsync();

        using (var offline = await UploadAsync(attacker, evil, OfflinePage))
            Assert.That(offline.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "only a server admin uploads what every organization receives");
        using (var shadow = await UploadAsync(attacker, evil, $"/Organizations/{evilOrg}/Plugins", kind: "offline"))
        {
            Assert.That(shadow.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "a private package may not take the offline package's version");
            Assert.That(await ConsoleClient.TextOf(shadow), Does.Contain("com.vendor.store is the id of an offline plugin of the server"));
        }
        using (var newer = await UploadAsync(attacker, Package(Manifest("com.vendor.store", "2.2.0")), $"/Organizations/{evilOrg}/Plugins"))
            Assert.That(newer.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "nor a \"newer\" version that an updating client would take for the vendor's");
        await using (var db = Db())
        {
            var offlineId = await db.ExecuteScalarAsync<long>("SELECT id FROM plugin_package WHERE organization_id IS NULL");
            var evilPage = $"/Organizations/{evilOrg}/Plugins";
            using var delete = await attacker.PostFormAsync(evilPage + "?handler=Delete", new Dictionary<string, string> { ["confirmed"] = "true", ["id"] = offlineId.ToString() }, tokenPage: evilPage);
            Assert.That(delete.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "nor delete it through their own organization");
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_package WHERE organization_id IS NULL"), Is.EqualTo(1));
        }

        using var victim = await KeyClientAsync("runner@acme.test", Org);
        using var downloaded = new MemoryStream();
        var sha = await victim.DownloadPluginAsync("com.vendor.store", "2.1.0", downloaded);
        Assert.That(downloaded.ToArray(), Is.EqualTo(vendor), "every organization still downloads the vendor's package");
        Assert.That(sha, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(vendor))));
        Assert.That((await victim.PluginsAsync()).Single().Versions.Select(v => v.Version), Is.EqualTo(new[] { "2.1.0" }), "and never sees the attacker's private one");
        Assert.That(await StoredAsync(), Is.EqualTo(before), "the attacker stored nothing");
    }

    [Test]
    public async Task An_offline_upload_that_would_make_an_organizations_private_version_ambiguous_is_refused_with_the_holder()
    {
        using (await UploadAsync(Admin, Package(Manifest("com.acme.tool", "1.0.0")))) { }
        using (var offline = await UploadAsync(Admin, Package(Manifest("com.acme.tool", "1.0.0")), OfflinePage))
        {
            Assert.That(offline.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(offline), Does.Contain($"com.acme.tool 1.0.0 is a private package of the organization \"ACME QA\" (ID {Org})"));
        }
        using (var again = await UploadAsync(Admin, Package(Manifest("com.vendor.x", "1.0.0")), OfflinePage)) { }
        using (var duplicate = await UploadAsync(Admin, Package(Manifest("com.vendor.x", "1.0.0"), ("b", [2])), OfflinePage))
            Assert.That(await ConsoleClient.TextOf(duplicate), Does.Contain("com.vendor.x 1.0.0 is in the repository already"));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_package"), Is.EqualTo(2));
    }

    [Test]
    public async Task A_person_in_two_organizations_with_the_same_private_version_is_never_served_a_guess()
    {
        var mine = Package(Manifest("com.shared.name", "1.0.0"), ("a", [1]));
        using (await UploadAsync(Admin, mine)) { }
        var otherOrg = await CreateOrganizationAsync(Admin, "Other");
        using (await UploadAsync(Admin, Package(Manifest("com.shared.name", "1.0.0"), ("b", [2])), $"/Organizations/{otherOrg}/Plugins")) { }

        using var person = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await person.LoginAsync(AdminEmail, Password);
        var refused = Assert.ThrowsAsync<KitApiException>(() => person.DownloadPluginAsync("com.shared.name", "1.0.0", Stream.Null))!;
        Assert.That((refused.Status, refused.Code), Is.EqualTo((409, "plugin_ambiguous")));
        using var scoped = await KeyClientAsync(AdminEmail, Org);
        using var downloaded = new MemoryStream();
        await scoped.DownloadPluginAsync("com.shared.name", "1.0.0", downloaded);
        Assert.That(downloaded.ToArray(), Is.EqualTo(mine), "an organization's API key picks its own package");
    }
}
