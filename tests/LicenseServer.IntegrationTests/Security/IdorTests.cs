using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Organizations;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Who may reach what: a Member on every management handler and every /Admin page, an outsider on every
/// page of another organization, and another organization's object ids sent through one's own
/// organization's routes (IDOR). Handlers come from the endpoint data source, so new ones are covered.
/// </summary>
public sealed class IdorTests : SecurityTest
{
    [TestCase(false)]
    [TestCase(true)]
    public async Task A_Member_is_refused_every_handler_their_role_does_not_allow_and_nothing_changes(bool canManageLicenses)
    {
        await BuildWorldAsync();
        await using (var db = Db())
            await db.ExecuteAsync("UPDATE organization_member SET can_manage_licenses = @canManageLicenses WHERE user_id = @MemberId", new { canManageLicenses, W.MemberId });
        var member = W.MemberClient;
        var token = await member.TokenAsync($"/Organizations/{W.Victim}");
        var before = await SnapshotAsync();
        var refused = new List<string>();
        foreach (var handler in await ConsoleEndpoints.AllAsync(Server))
        {
            if (!handler.IsAdminPage && !handler.IsOrganizationPage) continue;
            var needed = handler.Requires ?? (handler.IsPost ? null : OrgPermission.View);
            if (handler.IsOrganizationPage && needed is { } permission && RolePolicy.Allows(OrgRole.Member, canManageLicenses, permission)) continue;
            using var response = await SendAsync(member, handler, VictimRoute, ValidFields(handler), token);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), handler.ToString());
            refused.Add(handler.ToString());
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "no table may change");
        Assert.That(refused, Has.Some.Contains("/Admin/Users").And.Some.Contains("handler=Role").And.Some.Contains("handler=CreateOffline"));
        Assert.That(refused.Any(r => r.Contains("handler=Assign")), Is.EqualTo(!canManageLicenses), "the license permission opens license management, and only that");
    }

    [TestCase("owner")]
    [TestCase("admin")]
    public async Task An_organizations_Owner_or_Admin_is_refused_every_server_admin_handler_and_nothing_changes(string role)
    {
        await BuildWorldAsync();
        await using (var db = Db())
            await db.ExecuteAsync("UPDATE organization_member SET role = @role WHERE user_id = @MemberId", new { role, W.MemberId });
        var tenant = W.MemberClient;
        var token = await tenant.TokenAsync($"/Organizations/{W.Victim}");
        var before = await SnapshotAsync();
        var refused = new List<string>();
        foreach (var handler in (await ConsoleEndpoints.AllAsync(Server)).Where(h => h.IsAdminPage))
        {
            using var response = await SendAsync(tenant, handler, VictimRoute, ValidFields(handler), token);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), $"{role}: {handler}");
            refused.Add(handler.ToString());
        }
        Assert.That(refused, Has.Some.Contains("/Admin/Settings?handler=Update").And.Some.Contains("/Admin/Settings?handler=Organizations")
            .And.Some.Contains("/Admin/Plugins?handler=Upload").And.Some.Contains("/Admin/Plugins?handler=Delete"));
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "no table may change");
    }

    [Test]
    public async Task Every_page_of_another_organization_is_not_found_for_an_outsider_and_nothing_changes()
    {
        await BuildWorldAsync();
        var outsider = W.AttackerClient;
        var token = await outsider.TokenAsync($"/Organizations/{W.Attacker}");
        var before = await SnapshotAsync();
        var tried = 0;
        foreach (var handler in (await ConsoleEndpoints.AllAsync(Server)).Where(h => h.IsOrganizationPage))
        {
            using var response = await SendAsync(outsider, handler, VictimRoute, ValidFields(handler), token);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), $"{handler}: not a member, so no hint that it exists");
            tried++;
        }
        Assert.That(tried, Is.GreaterThan(40));
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "no table may change");
    }

    [Test]
    public async Task Another_organizations_ids_sent_through_my_own_organizations_routes_are_refused_and_change_nothing()
    {
        await BuildWorldAsync();
        var attacker = W.AttackerClient;
        var token = await attacker.TokenAsync($"/Organizations/{W.Attacker}");
        var ownRoute = new Dictionary<string, string> { ["orgId"] = W.Attacker.ToString(), ["teamId"] = W.Team.ToString() };
        var before = await SnapshotAsync();
        var tried = new List<string>();
        foreach (var handler in (await ConsoleEndpoints.AllAsync(Server)).Where(h => h.IsOrganizationPage))
        {
            var takesVictimId = handler.Route.Contains("{teamId") || handler.Parameters.Any(p =>
                (Nullable.GetUnderlyingType(p.Type) ?? p.Type) is var t && (t == typeof(long) || t == typeof(long[]) || t == typeof(Guid)));
            if (!takesVictimId) continue;
            // Everything else names the attacker's own organization, so that only the foreign id can refuse the request.
            var fields = ValidFields(handler).Select(f => f.Value == VictimOther ? new KeyValuePair<string, string>(f.Key, AttackerMember) : f).ToList();
            using var response = await SendAsync(attacker, handler, ownRoute, fields, token);
            Assert.That((int)response.StatusCode, Is.InRange(400, 499), $"{handler} with the victim's ids: {await ConsoleClient.TextOf(response)}");
            tried.Add(handler.ToString());
        }
        Assert.That(tried, Has.Count.GreaterThan(15));
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "nothing of either organization may change");
    }

    [Test]
    public async Task One_organizations_token_and_key_reach_nothing_of_another_organization()
    {
        await BuildWorldAsync();
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        var attackerToken = (await kit.LoginAsync(Attacker, Password)).Token;
        var membership = (await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(W.Attacker, await IdOfAsync(Attacker)))!;
        var attackerKey = await Members.EngineKeyAsync(Server, membership, "attacker key");
        var before = await SnapshotAsync("api_key", "api_token");

        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Delete })
        {
            using var request = new HttpRequestMessage(method, $"/api/v1/organizations/{W.Victim}/activations")
            {
                Content = JsonContent.Create(new { product = "KSE", machineId = "VICTIM-PC" }),
            };
            request.Headers.Authorization = new("Bearer", attackerToken);
            using var response = await http.SendAsync(request);
            Assert.That(await CodeAsync(response), Is.EqualTo((403, "not_a_member")), $"{method} activations of the victim's organization with the attacker's token");
        }
        using (var withKey = await SendWithKeyAsync(http, HttpMethod.Post, $"/api/v1/organizations/{W.Victim}/activations", attackerKey,
                   JsonContent.Create(new { product = "KSE", machineId = "EVIL-PC" })))
            Assert.That(await CodeAsync(withKey), Is.EqualTo((401, "unauthorized")), "activations take a person's token, never an API key");
        using (var heartbeat = await SendWithKeyAsync(http, HttpMethod.Put, $"/api/v1/sessions/{W.Session}/heartbeat", attackerKey))
            Assert.That(await CodeAsync(heartbeat), Is.EqualTo((410, "session_expired")), "another organization's session is not renewed");
        using (var release = await SendWithKeyAsync(http, HttpMethod.Delete, $"/api/v1/sessions/{W.Session}", attackerKey))
            Assert.That(await CodeAsync(release), Is.EqualTo((404, "session_not_found")), "nor released");
        foreach (var path in new[] { "/api/v1/plugins/com.victim.secret", "/api/v1/plugins/com.victim.secret/1.0.0/download" })
            using (var plugin = await SendWithKeyAsync(http, HttpMethod.Get, path, attackerKey))
                Assert.That(await CodeAsync(plugin), Is.EqualTo((404, "plugin_not_found")), path);
        using (var list = await SendWithKeyAsync(http, HttpMethod.Get, "/api/v1/plugins?search=secret", attackerKey))
            Assert.That(await list.Content.ReadAsStringAsync(), Is.EqualTo("[]"), "another organization's private plugin is not listed");
        Assert.That((await kit.PluginsAsync()).Select(p => p.Id), Does.Not.Contain("com.victim.secret"), "nor for a signed-in person");

        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync("api_key", "api_token")), Is.Empty, "the victim's activation, session and plugin are as they were");
    }

    private static async Task<HttpResponseMessage> SendWithKeyAsync(HttpClient http, HttpMethod method, string path, string key, HttpContent? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body };
        request.Headers.Add("X-Api-Key", key);
        return await http.SendAsync(request);
    }

    public static async Task<(int Status, string? Code)> CodeAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        string? code = null;
        if (text.StartsWith('{')) code = JsonDocument.Parse(text).RootElement.TryGetProperty("code", out var c) ? c.GetString() : null;
        return ((int)response.StatusCode, code);
    }

    /// <summary>A GET with the fields in the query, or a POST of the form with the caller's token.</summary>
    private static Task<HttpResponseMessage> SendAsync(ConsoleClient client, ConsoleHandler handler, IReadOnlyDictionary<string, string> route,
        List<KeyValuePair<string, string>> fields, string token)
    {
        var product = ProductQuery(handler);
        if (!handler.IsPost)
        {
            var query = string.Join('&', fields.Select(f => $"{f.Key}={Uri.EscapeDataString(f.Value)}").Append(product).Where(q => q.Length > 0));
            return client.GetAsync(handler.Url(route, query));
        }
        return client.PostRawAsync(handler.Url(route, product), new FormUrlEncodedContent([.. fields, new("__RequestVerificationToken", token)]));
    }
}
