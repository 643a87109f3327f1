using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>An organization with KSE (per-user) and KRE (floating) shares allocated by the server admin.</summary>
public abstract class LicenseTest : ConsoleTest
{
    protected long Org { get; private set; }
    protected string Page(string product = "KSE") => $"/Organizations/{Org}/Licenses?product={product}";

    [SetUp]
    public async Task CreateOrganizationWithShares()
    {
        Org = await CreateOrganizationAsync(Admin, "ACME QA");
        await AllocateAsync(Org, "KSE", 10);
        await AllocateAsync(Org, "KRE", 5);
    }

    protected async Task<HttpResponseMessage> AllocateAsync(long organizationId, string product, int quota, bool expectOk = true)
    {
        var response = await Admin.PostFormAsync("/Admin/Licenses", new Dictionary<string, string>
        {
            ["organizationId"] = organizationId.ToString(), ["product"] = product, ["quota"] = quota.ToString(),
        });
        if (expectOk) Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(response));
        return response;
    }

    protected async Task<List<string>> MembersAsync(int count, string prefix = "user")
    {
        var emails = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var email = $"{prefix}{i}@acme.test";
            await AddMemberAsync(Org, email);
            emails.Add(email);
        }
        return emails;
    }

    protected Task<HttpResponseMessage> AssignAsync(ConsoleClient client, string emails, string product = "KSE") =>
        client.PostFormAsync($"/Organizations/{Org}/Licenses?product={product}&handler=Assign", new Dictionary<string, string> { ["emails"] = emails }, tokenPage: Page(product));

    protected async Task<long> AssignedAsync(string product = "KSE")
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT count(*) FROM license_assignment WHERE organization_id = @Org AND product_code = @product", new { Org, product });
    }

    /// <summary>A member assigned KRE, who may check it out: the organization lets only assigned members.</summary>
    protected async Task<long> KreMemberAsync(string email)
    {
        var userId = await AddMemberAsync(Org, email);
        await using var db = Db();
        await Members.AssignFloatingAsync(db, Org, userId);
        return userId;
    }

    protected async Task<long> UserIdAsync(string email)
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @email", new { email });
    }
}
