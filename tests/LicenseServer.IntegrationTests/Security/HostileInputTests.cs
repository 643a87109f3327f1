using System.Net;
using System.Text.Json;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Plugins;
using LicenseServer.IntegrationTests.Plugins;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Hostile text in the console: SQL metacharacters and LIKE wildcards in every search box and in the
/// names forms store. Each gets exactly the literal result, never a 500.
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
            await Server.Service<PluginStore>().StoreAsync(org, "private", package, 1024 * 1024, await IdOfAsync(AdminEmail));
        }
        foreach (var team in new[] { "100% team", "snake_case team", "back\\slash team", "' OR 1=1-- team", "plain team" })
            using (var created = await Admin.PostFormAsync($"/Organizations/{org}/Teams?handler=Create", new Dictionary<string, string> { ["name"] = team }, tokenPage: $"/Organizations/{org}/Teams"))
                Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        await using var db = Db();
        var emails = (await db.QueryAsync<string>("SELECT email FROM user_account")).AsList();
        var subjects = (await db.QueryAsync<string>("SELECT coalesce(subject, '') FROM audit_event WHERE organization_id = @org", new { org })).AsList();
        using var kit = new KitClient(new Uri(Server.BaseUrl));
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

    /// <summary>The decoded body of the table with this data-testid.</summary>
    private static string Table(string html, string testId)
    {
        var start = html.IndexOf($"data-testid=\"{testId}\"", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"no table {testId}");
        return html[start..html.IndexOf("</table>", start, StringComparison.Ordinal)];
    }
}
