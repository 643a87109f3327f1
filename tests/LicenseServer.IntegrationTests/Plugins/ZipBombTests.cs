using System.Net;
using System.Net.Http.Headers;
using Dapper;
using LicenseServer.Core.Tests.Plugins;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Plugins;

/// <summary>
/// A zip bomb uploaded through the Plugins page is refused with a sentence that says why, and leaves
/// neither a row nor its bytes. The upload limit is the server's default (200 MB): a few KB that declare
/// a gigabyte stay under its absolute cap (2000 MB), so only the layout and ratio checks can refuse them.
/// </summary>
public class ZipBombTests : ConsoleTest
{
    private long _org;

    [SetUp]
    public async Task CreateOrganization() => _org = await CreateOrganizationAsync(Admin);

    private async Task<(HttpStatusCode Status, string Text)> UploadAsync(byte[] package)
    {
        var page = $"/Organizations/{_org}/Plugins";
        using var content = new MultipartFormDataContent
        {
            { new StringContent(await Admin.TokenAsync(page)), "__RequestVerificationToken" },
            { new StringContent("private"), "kind" },
        };
        var file = new ByteArrayContent(package);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        content.Add(file, "package", "slack-notifier-1.0.0.zip");
        using var response = await Admin.PostRawAsync(page + "?handler=Upload", content);
        return (response.StatusCode, await ConsoleClient.TextOf(response));
    }

    private async Task AssertNothingStoredAsync()
    {
        await using (var db = Db())
        {
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_package"), Is.Zero, "no plugin_package row");
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_blob"), Is.Zero, "no package bytes");
        }
        var root = Path.Combine(Server.DataDirectory, "plugins");
        if (!Directory.Exists(root)) return;
        Assert.That(Directory.GetFiles(root, "*", SearchOption.AllDirectories), Is.Empty, "no file under the plugins directory");
        Assert.That(Directory.GetDirectories(root).Select(Path.GetFileName), Is.EquivalentTo(new[] { "incoming" }).Or.Empty, "at most the empty incoming folder");
    }

    [Test]
    public async Task A_small_package_whose_entries_share_one_stream_is_refused_and_nothing_is_stored()
    {
        var bomb = ZipBombs.Overlapping(PluginTests.Manifest());
        Assert.That(bomb.Length, Is.LessThan(20 * 1024), "the package weighs a few KB");

        var (status, text) = await UploadAsync(bomb);

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), "the package was not refused");
        Assert.That(text, Does.Contain("Entries of the package share their data")
            .And.Contain("which no zip tool makes")
            .And.Contain("It was refused as a zip bomb."));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task A_package_that_would_unpack_to_over_100_times_its_size_is_refused_and_nothing_is_stored()
    {
        var bomb = ZipBombs.Expanding(PluginTests.Manifest());

        var (status, text) = await UploadAsync(bomb);

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), "the package was not refused");
        Assert.That(text, Does.Match(@"The package would unpack to 10 MB from an upload of \d+ KB, more than 100 times its size\. It was refused as a zip bomb\."));
        Assert.That(text, Does.Not.Contain("share their data"));
        await AssertNothingStoredAsync();
    }
}
