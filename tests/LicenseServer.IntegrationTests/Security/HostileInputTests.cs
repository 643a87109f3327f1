using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Plugins;
using LicenseServer.IntegrationTests.Plugins;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Hosting;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Hostile text in the console: SQL metacharacters and LIKE wildcards in every search box and in the
/// names forms store, a NUL or bytes that are not UTF-8 in any field of any form, and forms too large.
/// Each gets a clear 4xx or exactly the literal result, never a 500, and nothing is stored half-way.
/// </summary>
public sealed class HostileInputTests : SecurityTest
{
    private static readonly string[] Terms = ["%", "_", "\\", "' OR 1=1--", "'", "%_", "a%"];

    [Test]
    public async Task Every_search_box_matches_wildcards_and_SQL_metacharacters_literally()
    {
        var org = await CreateOrganizationAsync(Admin, "Search Corp");
        foreach (var email in new[] { "per%cent@acme.test", "under_score@acme.test", "back\\slash@acme.test", "quote'or@acme.test", "plain@acme.test" })
            await CreateUserAsync(email);
        var plugins = new (string Id, string Name)[]
        {
            ("com.acme.percent", "100% Pure"), ("com.acme.snake_case", "Snake tool"), ("com.acme.backslash", "Back\\slash"),
            ("com.acme.quote", "It's ' OR 1=1-- safe"), ("com.acme.plain", "Plain"),
        };
        foreach (var (id, name) in plugins)
        {
            var manifest = JsonSerializer.Serialize(new { id, name, version = "1.0.0", compatible = ">=1.0", description = "" });
            await using var package = new MemoryStream(PluginTests.Package(manifest));
            await Server.Service<PluginStore>().StoreAsync(org, package, 1024 * 1024, await IdOfAsync(AdminEmail));
        }
        foreach (var team in new[] { "100% team", "snake_case team", "back\\slash team", "' OR 1=1-- team", "plain team" })
            using (var created = await Admin.PostFormAsync($"/Organizations/{org}/Teams?handler=Create", new Dictionary<string, string> { ["name"] = team }, tokenPage: $"/Organizations/{org}/Teams"))
                Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        await using var db = Db();
        var emails = (await db.QueryAsync<string>("SELECT email FROM user_account")).AsList();
        var subjects = (await db.QueryAsync<string>("SELECT coalesce(subject, '') FROM audit_event WHERE organization_id = @org", new { org })).AsList();
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await kit.LoginAsync(AdminEmail, Password);
        foreach (var term in Terms)
        {
            bool Has(string text) => text.Contains(term, StringComparison.OrdinalIgnoreCase);
            var q = Uri.EscapeDataString(term);

            var users = await ConsoleClient.TextOf(await Admin.GetAsync($"/Admin/Users?q={q}"));
            Assert.That(users, Does.Contain($"{emails.Count(Has)} user(s)"), $"All users, \"{term}\"");
            foreach (var email in emails) Assert.That(Table(users, "users").Contains(email + " "), Is.EqualTo(Has(email)), $"All users, \"{term}\": {email}");

            var listed = await ConsoleClient.TextOf(await Admin.GetAsync($"/Organizations/{org}/Plugins?q={q}"));
            foreach (var (id, name) in plugins)
                Assert.That(Table(listed, "plugins").Contains($"<code>{id}</code>"), Is.EqualTo(Has(id) || Has(name)), $"Plugins, \"{term}\": {id}");
            var viaApi = (await kit.PluginsAsync(term)).Select(p => p.Id);
            Assert.That(viaApi, Is.EquivalentTo(plugins.Where(p => Has(p.Id) || Has(p.Name)).Select(p => p.Id)), $"GET /api/v1/plugins?search={term}");

            var bySubject = await ConsoleClient.TextOf(await Admin.GetAsync($"/Organizations/{org}/Audit?subject={q}"));
            Assert.That(bySubject, Does.Contain($"{subjects.Count(Has)} entries"), $"Audit log subject, \"{term}\"");
            var byActor = await ConsoleClient.TextOf(await Admin.GetAsync($"/Organizations/{org}/Audit?actor={q}"));
            Assert.That(byActor, Does.Contain($"{(Has(AdminEmail) ? subjects.Count : 0)} entries"), $"Audit log actor, \"{term}\"");
        }

        // The kind filter is a LIKE prefix too: "api_key." must match its own entries, its '_' taken literally.
        using (var key = await Admin.PostFormAsync($"/Organizations/{org}/ApiKeys?handler=Create", new Dictionary<string, string> { ["name"] = "ci" }, tokenPage: $"/Organizations/{org}/ApiKeys"))
            Assert.That(key.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var apiKeys = await ConsoleClient.TextOf(await Admin.GetAsync($"/Organizations/{org}/Audit?action=api_key."));
        Assert.That(apiKeys, Does.Contain("1 entries").And.Contain("api_key.created"), "the API keys kind lists the key's creation");
    }

    [Test]
    public async Task Names_with_SQL_metacharacters_wildcards_and_markup_are_stored_and_shown_as_typed()
    {
        const string orgName = "Robert'); DROP TABLE organization;-- 100%_\\";
        const string teamName = "<script>alert('x')</script> %_\\";
        const string keyName = "' OR ''='";
        var org = await CreateOrganizationAsync(Admin, orgName);
        using (var team = await Admin.PostFormAsync($"/Organizations/{org}/Teams?handler=Create", new Dictionary<string, string> { ["name"] = teamName }, tokenPage: $"/Organizations/{org}/Teams"))
            Assert.That(team.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var key = await Admin.PostFormAsync($"/Organizations/{org}/ApiKeys?handler=Create", new Dictionary<string, string> { ["name"] = keyName }, tokenPage: $"/Organizations/{org}/ApiKeys"))
            Assert.That(key.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await using (var db = Db())
        {
            Assert.That(await db.ExecuteScalarAsync<string>("SELECT name FROM organization WHERE id = @org", new { org }), Is.EqualTo(orgName));
            Assert.That(await db.ExecuteScalarAsync<string>("SELECT name FROM team WHERE organization_id = @org", new { org }), Is.EqualTo(teamName));
            Assert.That(await db.ExecuteScalarAsync<string>("SELECT name FROM api_key WHERE organization_id = @org", new { org }), Is.EqualTo(keyName));
        }
        var teams = await Admin.GetTextAsync($"/Organizations/{org}/Teams");
        Assert.That(teams, Does.Not.Contain("<script>alert"), "markup is shown, not run");
        Assert.That(WebUtility.HtmlDecode(teams), Does.Contain(teamName).And.Contain(orgName));
        Assert.That(await ConsoleClient.TextOf(await Admin.GetAsync($"/Organizations/{org}/ApiKeys")), Does.Contain(keyName));
    }

    [Test]
    public async Task A_NUL_or_bytes_that_are_not_UTF8_in_any_field_of_any_form_are_refused_with_a_sentence_and_nothing_is_stored()
    {
        await BuildWorldAsync();
        var token = await Admin.TokenAsync($"/Organizations/{W.Victim}");
        var handlers = await ConsoleEndpoints.AllAsync(Server);
        var before = await SnapshotAsync();
        var tried = 0;
        foreach (var handler in handlers.Where(h => !ConsoleEndpoints.IgnoresAntiforgery(h)))
        {
            var fields = ValidFields(handler);
            var product = ProductQuery(handler);
            var textFields = handler.Parameters.Where(p => p.Type == typeof(string) || p.Type == typeof(string[])).Select(p => p.Name).ToList();
            foreach (var field in textFields)
            {
                var hostile = fields.Select(f => f.Key == field ? new KeyValuePair<string, string>(f.Key, f.Value + "\0" + f.Value) : f).ToList();
                using var response = handler.IsPost
                    ? await Admin.PostRawAsync(handler.Url(VictimRoute, product), new FormUrlEncodedContent([.. hostile, new("__RequestVerificationToken", token)]))
                    : await Admin.GetAsync(handler.Url(VictimRoute, string.Join('&', hostile.Select(f => $"{f.Key}={Uri.EscapeDataString(f.Value)}").Append(product).Where(q => q.Length > 0))));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), $"{handler}, NUL in {field}");
                Assert.That(await MainOf(response), Does.Contain(InputGuard.NulMessage), $"{handler}, NUL in {field}");
                tried++;
            }
            if (handler.IsPost && textFields.FirstOrDefault() is { } first)
            {
                // The raw bytes 0xC3 0x28 are not UTF-8 (a browser encodes every byte of a form as %XX; an encoded sequence
                // that is not UTF-8, such as %c3%28, ASP.NET Core keeps as the literal text it is).
                var body = string.Join('&', fields.Select(f => $"{f.Key}={(f.Key == first ? "\u00C3(" : Uri.EscapeDataString(f.Value))}").Append("__RequestVerificationToken=" + Uri.EscapeDataString(token)));
                using var response = await Admin.PostRawAsync(handler.Url(VictimRoute, product), new ByteArrayContent(Encoding.Latin1.GetBytes(body))
                {
                    Headers = { ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded") },
                });
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), $"{handler}, not UTF-8 in {first}");
                Assert.That(await MainOf(response), Does.Contain(InputGuard.NotUtf8Message), $"{handler}, not UTF-8 in {first}");
            }
        }
        // The search boxes are plain query fields that no handler parameter names.
        foreach (var query in new[] { $"/Organizations/{W.Victim}/Audit?subject=a%00b", $"/Organizations/{W.Victim}/Audit?actor=%00", $"/Organizations/{W.Victim}/Licenses?product=KSE%00" })
            using (var response = await Admin.GetAsync(query))
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), query);
        using (var upload = await UploadPluginAsync(PluginTests.Package(PluginTests.Manifest("com.acme.nul")), kind: "private\0"))
            Assert.That(await MainOf(upload), Does.Contain(InputGuard.NulMessage), "a multipart form's text fields are checked too");
        Assert.That(tried, Is.GreaterThan(50));
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "no table may change");
        using (var home = await Admin.GetAsync("/"))
            Assert.That(home.StatusCode, Is.EqualTo(HttpStatusCode.OK), "and the server still answers");
    }

    [Test]
    public async Task A_plugin_manifest_holding_a_NUL_is_refused_and_leaves_neither_row_nor_file()
    {
        var org = await CreateOrganizationAsync(Admin, "Plugin Corp");
        var manifest = """{"id":"com.acme.nul","name":"Nul\u0000Name","version":"1.0.0","compatible":">=1.0","description":"fine"}""";
        using var upload = await UploadPluginAsync(PluginTests.Package(manifest), organization: org);
        Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await MainOf(upload), Does.Contain("control character"));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_package"), Is.Zero);
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM plugin_blob"), Is.Zero, "no package bytes are left behind");
        var root = Path.Combine(Server.DataDirectory, "plugins");
        Assert.That(Directory.Exists(root) ? Directory.GetFiles(root, "*", SearchOption.AllDirectories) : [], Is.Empty, "no package file is left behind");
    }

    [Test]
    public async Task A_console_form_larger_than_the_limit_is_refused_with_413_and_nothing_is_stored()
    {
        var before = await SnapshotAsync();
        var token = await Admin.TokenAsync("/Organizations/Create");
        var name = new string('x', (int)ConsoleBodyLimit.MaxBytes + 1024);
        using (var sized = await Admin.PostRawAsync("/Organizations/Create", new FormUrlEncodedContent([new("name", name), new("__RequestVerificationToken", token)])))
        {
            Assert.That(sized.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
            Assert.That(await MainOf(sized), Does.Contain("larger than the server accepts"));
        }
        // Without a Content-Length the body is cut off at the same size while it is read.
        var chunked = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes($"__RequestVerificationToken={Uri.EscapeDataString(token)}&name={name}")));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        chunked.Headers.ContentLength = null;
        using (var streamed = await Admin.PostRawAsync("/Organizations/Create", chunked))
            Assert.That((int)streamed.StatusCode, Is.InRange(400, 499));
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty);
    }

    private async Task<HttpResponseMessage> UploadPluginAsync(byte[] package, string kind = "private", long? organization = null)
    {
        var page = $"/Organizations/{organization ?? W.Victim}/Plugins";
        var content = new MultipartFormDataContent
        {
            { new StringContent(await Admin.TokenAsync(page)), "__RequestVerificationToken" },
            { new StringContent(kind), "kind" },
        };
        var file = new ByteArrayContent(package);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        content.Add(file, "package", "plugin.zip");
        return await Admin.PostRawAsync(page + "?handler=Upload", content);
    }

    /// <summary>The decoded body of the table with this data-testid.</summary>
    private static string Table(string html, string testId)
    {
        var start = html.IndexOf($"data-testid=\"{testId}\"", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"no table {testId}");
        return html[start..html.IndexOf("</table>", start, StringComparison.Ordinal)];
    }
}
