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

/// <summary>P1-P3: upload, list, download with checksum, visibility, duplicates, delete, and hostile packages.</summary>
public class PluginTests : LicenseTestBase
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

    public static string Manifest(string id = "com.acme.slack", string version = "1.0.0") =>
        $$"""{"id":"{{id}}","name":"Slack Notifier","version":"{{version}}","compatible":">=7.2.2","description":"Posts results to Slack."}""";

    private string PluginsPage => $"/Organizations/{Org}/Plugins";

    private async Task<HttpResponseMessage> UploadAsync(ConsoleClient client, byte[] package, string kind = "private", long? org = null)
    {
        var page = $"/Organizations/{org ?? Org}/Plugins";
        var content = new MultipartFormDataContent
        {
            { new StringContent(await client.TokenAsync(page)), "__RequestVerificationToken" },
            { new StringContent(kind), "kind" },
        };
        var file = new ByteArrayContent(package);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        content.Add(file, "package", "plugin.zip");
        return await client.PostRawAsync(page + "?handler=Upload", content);
    }

    private async Task<(long Rows, int Files)> StoredAsync()
    {
        await using var db = Db();
        var root = Path.Combine(Server.DataDirectory, "plugins");
        var files = Directory.Exists(root) ? Directory.GetFiles(root, "*", SearchOption.AllDirectories).Length : 0;
        return (await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_package"), files);
    }

    private async Task<KitClient> KeyClientAsync(string email, long org)
    {
        var userId = await UserIdAsync(email);
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(org, userId);
        return new KitClient(new Uri(Server.BaseUrl)) { ApiKey = await Server.Service<LicenseService>().CreateApiKeyAsync(membership!, "plugins") };
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
        using (await UploadAsync(Admin, Package(Manifest("com.acme.private")), "private")) { }
        using (await UploadAsync(Admin, Package(Manifest("com.vendor.store")), "offline")) { }
        await CreateUserAsync("other@acme.test");
        var otherOwner = await SignedInAsync("other@acme.test");
        var otherOrg = await CreateOrganizationAsync(otherOwner, "Other");
        using var other = await KeyClientAsync("other@acme.test", otherOrg);

        var visible = await other.PluginsAsync();
        Assert.That(visible.Select(p => p.Id), Is.EqualTo(new[] { "com.vendor.store" }));
        var hidden = Assert.ThrowsAsync<KitApiException>(() => other.DownloadPluginAsync("com.acme.private", "1.0.0", Stream.Null))!;
        Assert.That((hidden.Status, hidden.Code), Is.EqualTo((404, "plugin_not_found")));

        using var mine = new KitClient(new Uri(Server.BaseUrl));
        await mine.LoginAsync(AdminEmail, Password);
        Assert.That((await mine.PluginsAsync()).Select(p => p.Id), Is.EquivalentTo(new[] { "com.acme.private", "com.vendor.store" }), "signed in, a member sees its organization's private plugins");
    }

    [Test]
    public async Task A_duplicate_version_is_refused_and_delete_removes_the_row_and_its_file()
    {
        using (await UploadAsync(Admin, Package(Manifest()))) { }
        using (var again = await UploadAsync(Admin, Package(Manifest(), ("other.txt", [1, 2, 3]))))
        {
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(again), Does.Contain("com.acme.slack 1.0.0 is in the repository already"));
        }
        Assert.That(await StoredAsync(), Is.EqualTo((1L, 1)), "the refused upload left no file");

        long id;
        await using (var db = Db()) id = await db.ExecuteScalarAsync<long>("SELECT id FROM plugin_package");
        using (var deleted = await Admin.PostFormAsync(PluginsPage + "?handler=Delete", new Dictionary<string, string> { ["id"] = id.ToString() }, tokenPage: PluginsPage))
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await StoredAsync(), Is.EqualTo((0L, 0)));
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
            Assert.That(await StoredAsync(), Is.EqualTo((0L, 0)), $"{name}: nothing may be stored");
        }
    }

    [Test]
    public async Task A_Member_cannot_upload_or_delete_plugins()
    {
        await AddMemberAsync(Org, "member@acme.test");
        var member = await SignedInAsync("member@acme.test");
        using var response = await UploadAsync(member, Package(Manifest()));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await StoredAsync(), Is.EqualTo((0L, 0)));
    }
}
