using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Plugins;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Plugins;

/// <summary>
/// Package bytes live in PostgreSQL: every node serves every package whatever its own data directory holds,
/// identical bytes are stored once, and a large package passes through a node without being held in its memory.
/// </summary>
public class PluginStorageTests : ConsoleTest
{
    private const int MiB = 1024 * 1024;
    private const string Download = "/api/v1/plugins/com.acme.slack/1.0.0/download";

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        RandomNumberGenerator.Fill(bytes);
        return bytes;
    }

    private async Task<HttpResponseMessage> UploadAsync(ConsoleClient client, string page, HttpContent package)
    {
        var content = new MultipartFormDataContent { { new StringContent(await client.TokenAsync(page)), "__RequestVerificationToken" } };
        package.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        content.Add(package, "package", "plugin.zip");
        return await client.PostRawAsync(page + "?handler=Upload", content);
    }

    private async Task UploadPrivateAsync(long org, byte[] package)
    {
        using var uploaded = await UploadAsync(Admin, $"/Organizations/{org}/Plugins", new ByteArrayContent(package));
        Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(uploaded));
    }

    private async Task<string> ApiKeyAsync(long org, string email)
    {
        var membership = await Server.Service<Data.Organizations.OrganizationRepository>().MembershipAsync(org, await AddMemberAsync(org, email));
        return await Server.Service<LicenseService>().CreateApiKeyAsync(membership!, "plugins");
    }

    private static async Task<HttpResponseMessage> GetAsync(string baseUrl, string key, string path, Action<HttpRequestHeaders>? headers = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", key);
        headers?.Invoke(request.Headers);
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>What a client sees of a download besides its bytes.</summary>
    private static string HeadersOf(HttpResponseMessage response) => string.Join("\n",
        $"{(int)response.StatusCode} {response.Content.Headers.ContentType}",
        $"ETag: {response.Headers.ETag}",
        $"X-Checksum-SHA256: {string.Join(",", response.Headers.GetValues("X-Checksum-SHA256"))}",
        $"Content-Disposition: {response.Content.Headers.ContentDisposition}",
        $"Last-Modified: {response.Content.Headers.LastModified:R}",
        $"Content-Length: {response.Content.Headers.ContentLength}",
        $"Accept-Ranges: {response.Headers.AcceptRanges}");

    private async Task<(long Rows, long Blobs, long Chunks)> StoredAsync()
    {
        await using var db = Db();
        return await db.QuerySingleAsync<(long, long, long)>(
            "SELECT (SELECT count(*) FROM plugin_package), (SELECT count(*) FROM plugin_blob), (SELECT count(*) FROM plugin_chunk)");
    }

    [Test]
    public async Task A_package_uploaded_on_one_node_is_listed_and_downloaded_on_another_with_the_same_bytes_and_headers()
    {
        var org = await CreateOrganizationAsync(Admin);
        // Several chunks' worth, so that a range can straddle the boundary between two of them.
        var package = PluginTests.Package(PluginTests.Manifest(), ("lib/slack.jar", RandomBytes(2 * MiB + 123_456)));
        var sha = Convert.ToHexStringLower(SHA256.HashData(package));
        await UploadPrivateAsync(org, package);
        var key = await ApiKeyAsync(org, "runner@acme.test");

        await using var nodeB = await ServerProcess.StartAsync(Server.ConnectionString);
        Assert.That(nodeB.DataDirectory, Is.Not.EqualTo(Server.DataDirectory));

        using (var listed = await GetAsync(nodeB.BaseUrl, key, "/api/v1/plugins"))
            Assert.That(await listed.Content.ReadAsStringAsync(), Does.Contain($"\"sha256\":\"{sha}\""), "B lists the package");
        using var onA = await GetAsync(Server.BaseUrl, key, Download);
        using var onB = await GetAsync(nodeB.BaseUrl, key, Download);
        Assert.That(onB.StatusCode, Is.EqualTo(HttpStatusCode.OK), await onB.Content.ReadAsStringAsync());
        Assert.That(PluginTests.Digest(await onB.Content.ReadAsByteArrayAsync()), Is.EqualTo(PluginTests.Digest(package)), "B serves the bytes uploaded on A");
        Assert.That(PluginTests.Digest(await onA.Content.ReadAsByteArrayAsync()), Is.EqualTo(PluginTests.Digest(package)));
        Assert.That(HeadersOf(onB), Is.EqualTo(HeadersOf(onA)));
        Assert.That(onB.Headers.ETag!.Tag, Is.EqualTo($"\"{sha}\""));
        Assert.That(onB.Content.Headers.ContentDisposition!.FileName, Is.EqualTo("com.acme.slack-1.0.0.zip"));
        Assert.That(onB.Content.Headers.ContentLength, Is.EqualTo(package.Length));

        // A resumed download: a range across the first chunk boundary, and the rest of the file from an offset.
        using (var part = await GetAsync(nodeB.BaseUrl, key, Download, h => h.Range = new RangeHeaderValue(MiB - 10, MiB + 9)))
        {
            Assert.That(part.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
            Assert.That(part.Content.Headers.ContentRange!.ToString(), Is.EqualTo($"bytes {MiB - 10}-{MiB + 9}/{package.Length}"));
            Assert.That(await part.Content.ReadAsByteArrayAsync(), Is.EqualTo(package[(MiB - 10)..(MiB + 10)]));
            Assert.That(part.Headers.ETag!.Tag, Is.EqualTo($"\"{sha}\""));
        }
        using (var rest = await GetAsync(nodeB.BaseUrl, key, Download, h => h.Range = new RangeHeaderValue(1_500_000, null)))
        {
            Assert.That(rest.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
            Assert.That(PluginTests.Digest(await rest.Content.ReadAsByteArrayAsync()), Is.EqualTo(PluginTests.Digest(package[1_500_000..])));
        }
        using (var notModified = await GetAsync(nodeB.BaseUrl, key, Download, h => h.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{sha}\""))))
            Assert.That(notModified.StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
        Assert.That(Directory.Exists(Path.Combine(nodeB.DataDirectory, "plugins")) ? Directory.GetFiles(Path.Combine(nodeB.DataDirectory, "plugins"), "*", SearchOption.AllDirectories) : [],
            Is.Empty, "B keeps no copy of its own");
    }

    [Test]
    public async Task Identical_bytes_are_stored_once_and_removed_with_the_last_package_that_uses_them()
    {
        var first = await CreateOrganizationAsync(Admin, "First");
        var second = await CreateOrganizationAsync(Admin, "Second");
        var package = PluginTests.Package(PluginTests.Manifest(), ("lib/slack.jar", RandomBytes(MiB + 1000)));
        await UploadPrivateAsync(first, package);
        await UploadPrivateAsync(second, package);
        Assert.That(await StoredAsync(), Is.EqualTo((2L, 1L, 2L)), "two packages, one copy of their bytes in two chunks");

        var store = Server.Service<PluginStore>();
        var adminId = await IdOfAdminAsync();
        Assert.That(await store.DeleteAsync(first, (await store.ListAsync(first, null)).Single().Id, adminId));
        Assert.That(await StoredAsync(), Is.EqualTo((1L, 1L, 2L)), "the bytes stay while a package uses them");
        var key = await ApiKeyAsync(second, "runner@acme.test");
        using (var download = await GetAsync(Server.BaseUrl, key, Download))
            Assert.That(PluginTests.Digest(await download.Content.ReadAsByteArrayAsync()), Is.EqualTo(PluginTests.Digest(package)));

        Assert.That(await store.DeleteAsync(second, (await store.ListAsync(second, null)).Single().Id, adminId));
        Assert.That(await StoredAsync(), Is.EqualTo((0L, 0L, 0L)), "and go with the last one");
    }

    [Test]
    public async Task Uploads_and_deletes_of_the_same_bytes_at_once_never_leave_a_package_without_its_bytes()
    {
        var store = Server.Service<PluginStore>();
        var adminId = await IdOfAdminAsync();
        var orgs = new[] { await CreateOrganizationAsync(Admin, "First"), await CreateOrganizationAsync(Admin, "Second") };
        var package = PluginTests.Package(PluginTests.Manifest(), ("lib/slack.jar", RandomBytes(64 * 1024)));
        await store.StoreAsync(orgs[0], new MemoryStream(package), MiB, adminId);
        for (var round = 0; round < 20; round++)
        {
            // The one package there is goes while the same bytes are uploaded for the other organization.
            var (from, to) = (orgs[round % 2], orgs[(round + 1) % 2]);
            var id = (await store.ListAsync(from, null)).Single().Id;
            await Task.WhenAll(Task.Run(() => store.DeleteAsync(from, id, adminId)), Task.Run(() => store.StoreAsync(to, new MemoryStream(package), MiB, adminId)));
            Assert.That(await StoredAsync(), Is.EqualTo((1L, 1L, 1L)), $"round {round}: the package that is left has its bytes");
        }
    }

    /// <summary>VmHWM: the most memory the process has held at once since it started (kB).</summary>
    private static long PeakKilobytes(int processId) =>
        long.Parse(File.ReadLines($"/proc/{processId}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    /// <summary>A zip of <paramref name="megabytes"/> MB of random bytes, stored (not compressed), written to a file.</summary>
    private static string LargePackage(int megabytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kit-large-{Guid.NewGuid():N}.zip");
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        using (var writer = new StreamWriter(zip.CreateEntry("plugin.json").Open())) writer.Write(PluginTests.Manifest("com.acme.large"));
        using var entry = zip.CreateEntry("lib/large.bin", CompressionLevel.NoCompression).Open();
        var buffer = new byte[MiB];
        for (var i = 0; i < megabytes; i++)
        {
            RandomNumberGenerator.Fill(buffer);
            entry.Write(buffer);
        }
        return path;
    }

    [Test]
    public async Task A_large_package_goes_up_and_down_through_a_node_without_raising_its_memory_by_anything_like_its_size()
    {
        if (!OperatingSystem.IsLinux()) { Assert.Ignore("Reads the node's peak memory from /proc."); return; }
        const int megabytes = 100;
        var path = LargePackage(megabytes);
        try
        {
            string sha;
            await using (var file = File.OpenRead(path)) sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
            await using var node = await ServerProcess.StartAsync(Server.ConnectionString);
            using var admin = new ConsoleClient(node.BaseUrl);
            using (var signIn = await admin.SignInAsync(AdminEmail, Password))
                Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
            using var client = new KitClient(new Uri(node.BaseUrl), TestServer.Vendor.PublicKey);
            await client.LoginAsync(AdminEmail, Password);
            // A small package up and down first: what the first upload and download cost the node once (code, pools) is not the package's.
            using (var small = await UploadAsync(admin, "/Admin/Plugins", new ByteArrayContent(PluginTests.Package(PluginTests.Manifest("com.acme.small"), ("a", RandomBytes(MiB + 1))))))
                Assert.That(small.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(small));
            await client.DownloadPluginAsync("com.acme.small", "1.0.0", Stream.Null);
            var before = PeakKilobytes(node.ProcessId);

            await using (var upload = File.OpenRead(path))
            using (var uploaded = await UploadAsync(admin, "/Admin/Plugins", new StreamContent(upload)))
                Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(uploaded));
            Assert.That(await client.DownloadPluginAsync("com.acme.large", "1.0.0", Stream.Null), Is.EqualTo(sha), "the download has the uploaded bytes");
            var grown = PeakKilobytes(node.ProcessId) - before;

            TestContext.Progress.WriteLine($"peak memory of the node grew by {grown / 1024} MB for a package of {megabytes} MB");
            Assert.That(grown, Is.LessThan(megabytes * 1024 / 3), $"the node's peak memory grew by {grown / 1024} MB for a package of {megabytes} MB");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task<long> IdOfAdminAsync()
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @AdminEmail", new { AdminEmail });
    }
}
