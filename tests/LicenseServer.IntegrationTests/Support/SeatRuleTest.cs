using System.Net;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Organizations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>Issue 8's seat rules as people and clients meet them: console forms and the client API.</summary>
public abstract class SeatRuleTest : LicenseTest
{
    protected string TeamsPage => $"/Organizations/{Org}/Teams";

    protected static void Redirected(HttpResponseMessage response, string because = "") =>
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), because);

    /// <summary>A team made and filled through the Teams pages.</summary>
    protected async Task<long> TeamAsync(string name, IEnumerable<string> members)
    {
        using (var created = await Admin.PostFormAsync(TeamsPage + "?handler=Create", new Dictionary<string, string> { ["name"] = name }, tokenPage: TeamsPage))
            Redirected(created);
        long teamId;
        await using (var db = Db())
            teamId = await db.ExecuteScalarAsync<long>("SELECT id FROM team WHERE organization_id = @Org AND name = @name", new { Org, name });
        foreach (var email in members)
        {
            using var added = await Admin.PostFormAsync($"{TeamsPage}/{teamId}?handler=AddMember", new Dictionary<string, string> { ["email"] = email }, tokenPage: TeamsPage);
            Redirected(added);
        }
        return teamId;
    }

    protected Task<HttpResponseMessage> ReserveAsync(long teamId, string product, int seats) =>
        Admin.PostFormAsync($"{TeamsPage}/{teamId}?handler=Reserve",
            new Dictionary<string, string> { ["product"] = product, ["seats"] = seats.ToString() }, tokenPage: $"{TeamsPage}/{teamId}");

    /// <summary>A License Management form of <paramref name="product"/>, e.g. DisableMachine or AllowMachine.</summary>
    protected Task<HttpResponseMessage> LicensesFormAsync(string product, string handler, Dictionary<string, string> fields) =>
        Admin.PostFormAsync(Page(product) + "&handler=" + handler, fields, tokenPage: Page(product));

    protected KitClient NewKitClient() => new(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);

    protected async Task<KitClient> SignedInKitClientAsync(string email)
    {
        var client = NewKitClient();
        await client.LoginAsync(email, Password);
        return client;
    }

    /// <summary>A client with an API key of <paramref name="email"/>, who is assigned KRE first unless <paramref name="assignKre"/> is false.</summary>
    protected async Task<KitClient> ApiKeyClientAsync(string email, bool assignKre = true)
    {
        var userId = await UserIdAsync(email);
        if (assignKre)
            await using (var db = Db())
                await Members.AssignFloatingAsync(db, Org, userId);
        var membership = await Server.Service<OrganizationRepository>().MembershipAsync(Org, userId);
        return new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = await Server.Service<LicenseService>().CreateApiKeyAsync(membership!, "test key") };
    }

    protected static KitApiException Refused(Func<Task> call) => Assert.ThrowsAsync<KitApiException>(async () => await call())!;

    protected async Task<long> CountAsync(string sql, object? args = null)
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>(sql, args);
    }

    /// <summary>The organization's audit entries as "action subject details", oldest first.</summary>
    protected async Task<List<string>> AuditAsync(string actionPrefix)
    {
        await using var db = Db();
        return (await db.QueryAsync<string>("""
            SELECT a.action || ' ' || coalesce(a.subject, '') || ' ' || coalesce(a.details, '') || ' by ' || coalesce(u.email, '?')
            FROM audit_event a LEFT JOIN user_account u ON u.id = a.actor_user_id
            WHERE (a.organization_id = @Org OR a.organization_id IS NULL) AND a.action LIKE @prefix ORDER BY a.id
            """, new { Org, prefix = actionPrefix + "%" })).ToList();
    }
}
