using LicenseServer.IntegrationTests.Support;
using Npgsql;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>A destructive button first shows what it will do; Cancel leaves everything as it was, the confirmation acts.</summary>
public class ConfirmationFlowTests : BrowserTest
{
    [Test]
    public async Task Unassign_and_remove_ask_first_cancel_changes_nothing_and_the_confirmation_acts()
    {
        await using var server = await SignedInServerAsync();
        var orgId = await CreateOrganizationAsync(server, "ACME Careful", ("KSE", 5));
        var org = $"/Organizations/{orgId}";
        await using (var db = new NpgsqlConnection(server.ConnectionString)) await Members.AddAsync(db, orgId, 1, "careful");

        await Page.GotoAsync($"{server.BaseUrl}{org}/Licenses?product=KSE");
        await Page.FillAsync("#emails", "careful0@acme.test");
        await Page.ClickAsync("button:has-text('Assign License')");
        var confirm = Page.GetByTestId("confirm");
        var licensed = Page.GetByTestId("licensed-users");

        await licensed.Locator("button:has-text('Unassign')").ClickAsync();
        Assert.That(await confirm.Locator("h2").InnerTextAsync(), Is.EqualTo("Unassign KSE from careful0@acme.test?"));
        Assert.That(await Page.GetByTestId("consequences").InnerTextAsync(), Is.EqualTo("Recalls 1 license; its seat is free at once."));
        Assert.That(await licensed.InnerTextAsync(), Does.Contain("careful0@acme.test"), "asking changed nothing");
        await confirm.Locator("a:has-text('Cancel')").ClickAsync();
        Assert.That(await confirm.CountAsync(), Is.Zero);
        Assert.That(await licensed.InnerTextAsync(), Does.Contain("careful0@acme.test"));
        Assert.That(await Page.GetByTestId("in-use").InnerTextAsync(), Is.EqualTo("1"));

        await licensed.Locator("button:has-text('Unassign')").ClickAsync();
        await confirm.Locator("button:has-text('Unassign')").ClickAsync();
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("The license has been unassigned."));
        Assert.That(await licensed.InnerTextAsync(), Does.Not.Contain("careful0@acme.test"));
        Assert.That(await Page.GetByTestId("in-use").InnerTextAsync(), Is.EqualTo("0"));

        await Page.GotoAsync($"{server.BaseUrl}{org}/Users");
        await Page.Locator("[data-testid=members] tr:has-text('careful0@acme.test') button:has-text('Remove')").ClickAsync();
        Assert.That(await Page.GetByTestId("consequences").InnerTextAsync(),
            Is.EqualTo("Recalls 0 licenses, deactivates 0 machines, ends 0 sessions, revokes 0 API keys and takes them out of 0 teams. Their account stays; they can be invited again."));
        Assert.That(await Page.GetByTestId("members").InnerTextAsync(), Does.Contain("careful0@acme.test"));
        await confirm.Locator("button:has-text('Remove')").ClickAsync();
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("The member has been removed."));
        Assert.That(await Page.GetByTestId("members").InnerTextAsync(), Does.Not.Contain("careful0@acme.test"));
    }
}
