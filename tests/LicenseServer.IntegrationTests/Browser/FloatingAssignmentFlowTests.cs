using LicenseServer.IntegrationTests.Support;
using Npgsql;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>
/// In Chromium: floating licenses assigned to several members at once, a member's own page granting and recalling
/// (asked first), and the server admin deleting a user (asked first).
/// </summary>
public class FloatingAssignmentFlowTests : BrowserTest
{
    [Test]
    public async Task Assign_a_floating_license_to_many_then_grant_and_recall_on_a_members_page_and_delete_a_user()
    {
        await using var server = await SignedInServerAsync();
        var orgId = await CreateOrganizationAsync(server, "ACME Engines", ("KRE", 3), ("KSE", 5));
        var org = $"/Organizations/{orgId}";
        await using (var db = new NpgsqlConnection(server.ConnectionString)) await Members.AddAsync(db, orgId, 2, "engine");
        var info = Page.GetByTestId("info");
        var confirm = Page.GetByTestId("confirm");

        await Page.GotoAsync($"{server.BaseUrl}{org}/Licenses?product=KRE");
        await Page.FillAsync("#emails", "engine0@acme.test\nengine1@acme.test");
        await Page.ClickAsync("button:has-text('Assign License')");
        Assert.That(await info.InnerTextAsync(), Is.EqualTo("KRE has been assigned to 2 users."));
        Assert.That(await Page.GetByTestId("licensed-users").InnerTextAsync(), Does.Contain("engine0@acme.test").And.Contain("engine1@acme.test"));
        Assert.That(await Page.GetByTestId("in-use").First.InnerTextAsync(), Is.EqualTo("0"), "assignments take no seat");

        await Page.GotoAsync($"{server.BaseUrl}{org}/Users");
        await Page.ClickAsync("[data-testid=members] a:has-text('engine0@acme.test')");
        var kse = Page.Locator("[data-testid=member-licenses] tr[data-product=KSE]");
        var kre = Page.Locator("[data-testid=member-licenses] tr[data-product=KRE]");
        Assert.That(await kse.InnerTextAsync(), Does.Contain("Not assigned"));
        Assert.That(await kre.InnerTextAsync(), Does.Contain("Assigned"));
        await kse.Locator("button:has-text('Grant')").ClickAsync();
        Assert.That(await info.InnerTextAsync(), Is.EqualTo("KSE has been assigned to engine0@acme.test."));
        Assert.That(await kse.InnerTextAsync(), Does.Contain("Assigned").And.Not.Contain("Not assigned"));

        await kre.Locator("button:has-text('Recall')").ClickAsync();
        Assert.That(await Page.GetByTestId("consequences").InnerTextAsync(), Is.EqualTo(
            "Ends 0 live sessions of engine0@acme.test (their seats are free at once), and refuses their next checkout while only assigned members may check out."));
        Assert.That(await kre.InnerTextAsync(), Does.Not.Contain("Not assigned"), "asking changed nothing");
        await confirm.Locator("button:has-text('Unassign')").ClickAsync();
        Assert.That(await info.InnerTextAsync(), Is.EqualTo("KRE has been unassigned."));
        Assert.That(await kre.InnerTextAsync(), Does.Contain("Not assigned"));

        await Page.GotoAsync($"{server.BaseUrl}/Admin/Users?q=engine1");
        await Page.ClickAsync("button[aria-label='Delete engine1@acme.test']");
        Assert.That(await Page.GetByTestId("consequences").InnerTextAsync(), Does.StartWith(
            "Removes them from 1 organization by the rules of removing a member: recalls 1 license, deactivates 0 machines, ends 0 sessions and revokes 0 API keys."));
        await confirm.Locator("button:has-text('Delete user')").ClickAsync();
        Assert.That(await info.InnerTextAsync(), Does.StartWith("The user has been deleted"));
        Assert.That(await Page.GetByTestId("users").InnerTextAsync(), Does.Not.Contain("engine1@acme.test"));
    }
}
