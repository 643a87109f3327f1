using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Organizations;

/// <summary>
/// The lists that grow with an organization beyond License Management and Users: Teams, a team's members, API keys and
/// the members of "Grant or recall several", 50 a page with the total, searched and sorted on the server.
/// </summary>
public sealed class TeamAndKeyListTests : SeatRuleTest
{
    [Test]
    public async Task Teams_and_a_teams_members_are_paged_searched_and_sorted()
    {
        var people = await MembersAsync(60, "crew");
        long big;
        await using (var db = Db())
        {
            await db.ExecuteAsync("INSERT INTO team (organization_id, name) SELECT @Org, 'Squad ' || lpad(n::text, 2, '0') FROM generate_series(1, 60) AS n", new { Org });
            big = await db.ExecuteScalarAsync<long>("SELECT id FROM team WHERE organization_id = @Org AND name = 'Squad 07'", new { Org });
            await db.ExecuteAsync("""
                INSERT INTO team_member (team_id, user_id) SELECT @big, id FROM user_account WHERE email LIKE 'crew%'
                """, new { big });
        }
        var teams = await Admin.GetTextAsync($"/Organizations/{Org}/Teams");
        Assert.That(teams, Does.Contain("60 in all").And.Contain("Page 1 of 2").And.Contain("Squad 01").And.Not.Contain("Squad 51"));
        var byMembers = await Admin.GetTextAsync($"/Organizations/{Org}/Teams?teams-sort=-members");
        Assert.That(byMembers.IndexOf("Squad 07", StringComparison.Ordinal), Is.LessThan(byMembers.IndexOf("Squad 01", StringComparison.Ordinal)), "the biggest team first");
        Assert.That(await Admin.GetTextAsync($"/Organizations/{Org}/Teams?teams-q=squad%205"), Does.Contain("10 matching").And.Contain("Squad 50").And.Not.Contain("Squad 49"));

        var team = $"/Organizations/{Org}/Teams/{big}";
        var members = await Admin.GetTextAsync(team);
        Assert.That(members, Does.Contain("60 in all").And.Contain("crew0@acme.test").And.Contain("Page 1 of 2"));
        Assert.That(await Admin.GetTextAsync(team + "?members-page=2&members-sort=-email"), Does.Contain("crew0@acme.test"), "descending, the first email is on the last page");
        Assert.That(await Admin.GetTextAsync(team + "?members-q=crew59"), Does.Contain("1 matching").And.Contain("crew59@acme.test").And.Not.Contain("crew58@"));
        Assert.That(people, Has.Count.EqualTo(60));
    }

    [Test]
    public async Task A_members_API_keys_are_paged_and_sorted_and_the_bulk_page_lists_members_a_page_at_a_time()
    {
        var runner = await KreMemberAsync("runner@acme.test");
        var membership = (await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, runner))!;
        for (var i = 0; i < 55; i++) await Server.Service<LicenseServer.Web.Licenses.LicenseService>().CreateApiKeyAsync(membership, $"agent-{i:00}");
        var keys = $"/Organizations/{Org}/ApiKeys";
        var client = await SignedInAsync("runner@acme.test");
        var first = await client.GetTextAsync(keys);
        Assert.That(first, Does.Contain("55 in all").And.Contain("agent-54").And.Not.Contain("agent-04"), "newest first");
        Assert.That(await client.GetTextAsync(keys + "?keys-sort=name"), Does.Contain("agent-00").And.Not.Contain("agent-54"));
        Assert.That(await client.GetTextAsync(keys + "?keys-q=agent-3"), Does.Contain("10 matching"));

        await MembersAsync(70, "desk");
        var bulk = $"/Organizations/{Org}/Licenses/Bulk";
        var page = await Admin.GetTextAsync(bulk);
        Assert.That(page, Does.Contain("72 in all").And.Contain("Page 1 of 2"), "70 desks, the runner and the admin");
        var found = await Admin.GetTextAsync(bulk + "?members-q=desk69");
        Assert.That(found, Does.Contain("1 matching").And.Contain("desk69@acme.test"));
        var desk = await UserIdAsync("desk69@acme.test");
        using (var granted = await Admin.PostFormAsync(bulk + "?handler=Grant", new[]
               {
                   new KeyValuePair<string, string>("products", "KRE"), new("products", "KSE"), new("userIds", $"{desk}"),
               }, tokenPage: bulk))
            Redirected(granted, await ConsoleClient.TextOf(granted));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_assignment WHERE user_id = @desk", new { desk }), Is.EqualTo(1), "a floating product is assigned in bulk too");
        Assert.That(await CountAsync("SELECT count(*) FROM license_assignment WHERE user_id = @desk", new { desk }), Is.EqualTo(1));
        using (var asked = await Admin.PostFormAsync(bulk + "?handler=Recall", new[]
               {
                   new KeyValuePair<string, string>("products", "KRE"), new("products", "KSE"), new("userIds", $"{desk}"),
               }, tokenPage: bulk))
            Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Recall 2 licenses from 1 member?").And.Contain("Their live sessions of KRE end now."));
    }
}
