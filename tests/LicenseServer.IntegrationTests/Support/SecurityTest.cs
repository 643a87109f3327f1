using System.Net;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Organizations;
using LicenseServer.Data.Plugins;
using LicenseServer.IntegrationTests.Plugins;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// Two organizations with something of every kind: the victim's (its Owner is the server admin) holds a team
/// with a member, a pending invitation, a per-user license activated on a machine, a live floating session,
/// an API key, a private plugin and an offline license; the server holds an offline plugin for every organization; the
/// attacker owns an organization of their own.
/// </summary>
public abstract class SecurityTest : ConsoleTest
{
    public const string VictimMember = "v-member@victim.test";
    public const string VictimOther = "v-other@victim.test";
    public const string Attacker = "attacker@evil.test";
    public const string AttackerMember = "a-member@evil.test";

    protected World W { get; private set; } = null!;

    public sealed record World(
        long Victim, long Attacker, long MemberId, long OtherId, long Team, long Invitation, long Activation, Guid Session,
        long Plugin, long OfflinePlugin, long ApiKey, Guid Offline, long Mapping, ConsoleClient AttackerClient, ConsoleClient MemberClient)
    {
        /// <summary>The victim's objects by the name of the handler parameter that takes one.</summary>
        public IReadOnlyDictionary<string, string> Ids => new Dictionary<string, string>
        {
            ["invitationId"] = Invitation.ToString(), ["userId"] = MemberId.ToString(), ["userIds"] = MemberId.ToString(),
            ["teamId"] = Team.ToString(), ["activationId"] = Activation.ToString(), ["sessionId"] = Session.ToString(),
            ["keyId"] = ApiKey.ToString(), ["organizationId"] = Victim.ToString(), ["mappingId"] = Mapping.ToString(),
        };
    }

    protected async Task<World> BuildWorldAsync()
    {
        var victim = await CreateOrganizationAsync(Admin, "Victim Corp");
        await AllocateAsync(victim, "KSE", 5);
        await AllocateAsync(victim, "KRE", 3);
        var memberId = await AddMemberAsync(victim, VictimMember);
        var otherId = await AddMemberAsync(victim, VictimOther);
        using (var invited = await InviteAsync(Admin, victim, "v-invited@victim.test"))
            Assert.That(invited.StatusCode, Is.EqualTo(HttpStatusCode.OK), await ConsoleClient.TextOf(invited));
        foreach (var (product, emails) in new[] { ("KSE", VictimMember), ("KRE", $"{VictimMember}\n{VictimOther}") })
            using (var assigned = await Admin.PostFormAsync($"/Organizations/{victim}/Licenses?product={product}&handler=Assign",
                       new Dictionary<string, string> { ["emails"] = emails }, tokenPage: $"/Organizations/{victim}/Licenses?product={product}"))
                Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(assigned));

        var membership = (await Server.Service<OrganizationRepository>().MembershipAsync(victim, memberId))!;
        using (var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock))
        {
            await kit.LoginAsync(VictimMember, Password);
            await kit.ActivateAsync(victim, "KSE", "VICTIM-PC");
            kit.ApiKey = await Server.Service<LicenseService>().CreateApiKeyAsync(membership, "victim key");
            await kit.CheckoutAsync("KRE", "VICTIM-RUNNER", "1", autoHeartbeat: false);
        }
        var adminMembership = (await Server.Service<OrganizationRepository>().MembershipAsync(victim, await IdOfAsync(AdminEmail)))!;
        var offline = await Server.Service<LicenseService>().CreateOfflineAsync(adminMembership, "KSE", "VICTIM-OFFLINE", null);
        await using (var package = new MemoryStream(PluginTests.Package(PluginTests.Manifest("com.victim.secret"))))
            await Server.Service<PluginStore>().StoreAsync(victim, package, 1024 * 1024, adminMembership.UserId);
        await using (var package = new MemoryStream(PluginTests.Package(PluginTests.Manifest("com.vendor.store"))))
            await Server.Service<PluginStore>().StoreAsync(null, package, 1024 * 1024, adminMembership.UserId);

        // The worst case: the server admin lets anyone create organizations, so the attacker owns one.
        await LetAnyoneCreateOrganizationsAsync();
        await CreateUserAsync(Attacker);
        var attackerClient = await SessionOfAsync(Attacker);
        var attacker = await CreateOrganizationAsync(attackerClient, "Evil Inc");
        await AllocateAsync(attacker, "KSE", 2);
        await AllocateAsync(attacker, "KRE", 2);
        await AddMemberAsync(attacker, AttackerMember);

        await using var db = Db();
        var team = await db.ExecuteScalarAsync<long>("INSERT INTO team (organization_id, name) VALUES (@victim, 'Victim Team') RETURNING id", new { victim });
        await db.ExecuteAsync("INSERT INTO team_member (team_id, user_id) VALUES (@team, @memberId)", new { team, memberId });
        W = new World(victim, attacker, memberId, otherId, team,
            await db.ExecuteScalarAsync<long>("SELECT id FROM invitation WHERE organization_id = @victim", new { victim }),
            await db.ExecuteScalarAsync<long>("SELECT id FROM machine_activation WHERE organization_id = @victim", new { victim }),
            await db.ExecuteScalarAsync<Guid>("SELECT id FROM floating_session WHERE organization_id = @victim", new { victim }),
            await db.ExecuteScalarAsync<long>("SELECT id FROM plugin_package WHERE organization_id = @victim", new { victim }),
            await db.ExecuteScalarAsync<long>("SELECT id FROM plugin_package WHERE organization_id IS NULL"),
            await db.ExecuteScalarAsync<long>("SELECT id FROM api_key WHERE organization_id = @victim", new { victim }),
            offline,
            await db.ExecuteScalarAsync<long>("INSERT INTO directory_group_mapping (source, group_name, organization_id, role) VALUES ('ldap', 'cn=victims', @victim, 'member') RETURNING id", new { victim }),
            attackerClient, await SessionOfAsync(VictimMember));
        return W;
    }

    protected async Task<long> IdOfAsync(string email)
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @email", new { email });
    }

    protected async Task AllocateAsync(long organizationId, string product, int quota)
    {
        using var response = await Admin.PostFormAsync("/Admin/Licenses", new Dictionary<string, string>
        {
            ["organizationId"] = organizationId.ToString(), ["product"] = product, ["quota"] = quota.ToString(),
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(response));
    }

    /// <summary>What a page says, without the layout around it, for assertions and their messages.</summary>
    protected static async Task<string> MainOf(HttpResponseMessage response)
    {
        var html = await ConsoleClient.TextOf(response);
        var start = html.IndexOf("<main>", StringComparison.Ordinal);
        var end = html.IndexOf("</main>", StringComparison.Ordinal);
        return start >= 0 && end > start ? html[(start + 6)..end].Trim() : html;
    }

    protected Task<IReadOnlyDictionary<string, string>> SnapshotAsync(params string[] alsoIgnore) =>
        DatabaseSnapshot.TakeAsync(Server.ConnectionString, alsoIgnore);

    /// <summary>
    /// Values with which <paramref name="handler"/> would do its work in the victim's organization: its objects'
    /// ids, members' emails, settings that pass validation. A refusal in a test so proves the check it is about,
    /// not a mistake in the form.
    /// </summary>
    protected List<KeyValuePair<string, string>> ValidFields(ConsoleHandler handler)
    {
        var page = handler.ModelType.Name;
        var fields = new List<KeyValuePair<string, string>>();
        foreach (var parameter in handler.Parameters)
        {
            var type = Nullable.GetUnderlyingType(parameter.Type) ?? parameter.Type;
            if (type == typeof(CancellationToken) || type == typeof(Microsoft.AspNetCore.Http.IFormFile)) continue;
            var value = (page, parameter.Name) switch
            {
                ("PluginsModel", "id") => W.Plugin.ToString(),
                ("AdminPluginsModel", "id") => W.OfflinePlugin.ToString(),
                ("LicensesModel", "id") => W.Offline.ToString(),
                ("LicensesModel", "emails") => VictimOther,
                ("LicensesModel", "machineId") => handler.Name is "RemoveMachine" ? "VICTIM-RUNNER" : "VICTIM-PC",
                ("UsersModel", "emails") => "new-hire@victim.test",
                // The member page's member (route value userId) is VictimOther, who holds KRE and not KSE.
                ("MemberModel", "product") => handler.Name == "Grant" ? "KSE" : "KRE",
                (_, "toEmail" or "email") when page is "TeamModel" or "LicensesModel" => VictimOther,
                (_, "email") => AdminEmail,
                (_, "name") => "Renamed by someone else",
                (_, "product" or "products") => "KSE",
                (_, "role") => "owner",
                (_, "organizationCreation") => "anyone",
                (_, "allowed" or "onRefusal" or "confirm" or "confirmed") => parameter.Name == "confirm" ? "yes" : "true",
                (_, "generateSecret") => "false",
                (_, "quota" or "seats" or "activations") => "1",
                (_, "days") => "30",
                (_, "threshold") => "50",
                (_, "host") => "smtp.evil.test",
                (_, "port") => "25",
                (_, "protocol") => "plain",
                (_, "sender" or "recipient") => "mail@evil.test",
                (_, "webhookUrl") => "https://hooks.evil.test/steal",
                (_, "kind") => "private",
                (_, "password" or "currentPassword") => Password,
                (_, "newPassword" or "confirmation") => "a new password 1",
                (_, "reason") => "someone else",
                (_, "p") => "1",
                _ when W.Ids.TryGetValue(parameter.Name, out var id) => id,
                _ => "",
            };
            if (value == "" && (type == typeof(long) || type == typeof(long[]) || type == typeof(Guid)))
                Assert.Fail($"{handler} takes an id \"{parameter.Name}\" that SecurityTest.World has no object for: add one, so that the IDOR and CSRF walks cover it.");
            fields.Add(new(parameter.Name, value));
        }
        return fields;
    }

    /// <summary>The route values of the victim's pages, and the query that picks the product a handler's object belongs to.</summary>
    protected IReadOnlyDictionary<string, string> VictimRoute => new Dictionary<string, string>
    {
        ["orgId"] = W.Victim.ToString(), ["teamId"] = W.Team.ToString(), ["userId"] = W.OtherId.ToString(),
    };

    protected static string ProductQuery(ConsoleHandler handler) =>
        handler.ModelType.Name is "LicensesModel" or "UsageModel" ? "product=" + (handler.Name is "EndSession" or "RemoveMachine" or "AllowMachine" or "DisallowMachine" ? "KRE" : "KSE") : "";
}
