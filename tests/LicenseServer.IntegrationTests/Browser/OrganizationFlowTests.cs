using LicenseServer.IntegrationTests.Support;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Browser;

public class OrganizationFlowTests : BrowserTest
{
    [Test]
    public async Task Create_an_organization_invite_two_people_and_see_one_accept_in_another_browser()
    {
        await using var server = await SignedInServerAsync();

        await Page.ClickAsync("text=Create Organization");
        await Page.FillAsync("#name", "ACME QA");
        await Page.ClickAsync("button:has-text('Create Organization')");
        Assert.That(await Page.GetByTestId("org-name").InnerTextAsync(), Is.EqualTo("ACME QA"));
        var orgId = await Page.GetByTestId("org-id").InnerTextAsync();

        await Page.ClickAsync("nav.tabs >> text=Users");
        await Page.FillAsync("#emails", "alice@acme.test\nbob@acme.test");
        await Page.ClickAsync("button:has-text('Invite')");
        Assert.That(await Page.GetByTestId("no-mail-server").IsVisibleAsync(), Is.True);
        var aliceLink = await Page.GetByLabel("Invitation link for alice@acme.test").InputValueAsync();
        Assert.That(await States(Page), Is.EquivalentTo(new Dictionary<string, string>
        {
            ["alice@acme.test"] = "Must set a password", ["bob@acme.test"] = "Must set a password",
        }));

        // Alice opens her link in another browser (a context of her own, with no cookies of the admin's).
        await using var aliceContext = await Context.Browser!.NewContextAsync();
        var alice = await aliceContext.NewPageAsync();
        await alice.GotoAsync(server.BaseUrl + new Uri(aliceLink).PathAndQuery);
        Assert.That(await alice.GetByTestId("invited-email").InnerTextAsync(), Is.EqualTo("alice@acme.test"));
        await alice.FillAsync("#password", "alice's secret");
        await alice.FillAsync("#confirmation", "alice's secret");
        await alice.ClickAsync("button:has-text('Update password')");
        Assert.That(new Uri(alice.Url).AbsolutePath, Is.EqualTo("/Account/SignIn"));
        await alice.FillAsync("#email", "alice@acme.test");
        await alice.FillAsync("#password", "alice's secret");
        await alice.ClickAsync("button:has-text('Sign in')");
        Assert.That(await alice.GetByTestId("organizations").InnerTextAsync(), Does.Contain("ACME QA").And.Contain("Member"));

        await alice.GotoAsync(server.BaseUrl + new Uri(aliceLink).PathAndQuery);
        Assert.That(await alice.GetByTestId("link-error").InnerTextAsync(), Is.EqualTo("This link has been used to reset password."));

        await Page.GotoAsync($"{server.BaseUrl}/Organizations/{orgId}/Users");
        Assert.That(await States(Page), Is.EquivalentTo(new Dictionary<string, string>
        {
            ["alice@acme.test"] = "Accepted", ["bob@acme.test"] = "Must set a password",
        }));
        Assert.That(await Page.GetByTestId("members").InnerTextAsync(), Does.Contain("alice@acme.test"));
    }

    private static async Task<Dictionary<string, string>> States(IPage page)
    {
        var rows = page.Locator("[data-testid=pending-activations] tbody tr");
        var states = new Dictionary<string, string>();
        for (var i = 0; i < await rows.CountAsync(); i++)
            states[(await rows.Nth(i).GetAttributeAsync("data-email"))!] = await rows.Nth(i).GetByTestId("state").InnerTextAsync();
        return states;
    }
}
