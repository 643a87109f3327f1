using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>The server admin's overview pages, reached from the menu.</summary>
public class ServerAdminFlowTests : BrowserTest
{
    [Test]
    public async Task The_server_admin_sees_all_organizations_and_their_own_sign_in_in_the_server_audit()
    {
        await using var server = await SignedInServerAsync();
        await CreateOrganizationAsync(server, "Initech");

        await Page.ClickAsync("header nav >> text=All organizations");
        var row = Page.Locator("[data-testid=organizations] tr[data-organization='Initech']");
        var text = System.Text.RegularExpressions.Regex.Replace(await row.InnerTextAsync(), @"\s+", " ");
        Assert.That(text, Does.Contain(AdminEmail).And.Contain("KSE: 0 of 10").And.Contain("KRE: 0 of 5"), "the first organization holds every seat");
        Assert.That(await Page.Locator("header nav a[aria-current=page]").InnerTextAsync(), Is.EqualTo("All organizations"));

        await Page.ClickAsync("header nav >> text=Server audit");
        await Page.SelectOptionAsync("#action", "account.");
        await Page.ClickAsync("form.search button:has-text('Filter')");
        var audit = await Page.GetByTestId("audit").InnerTextAsync();
        Assert.That(audit, Does.Contain("account.signed_in").And.Contain(AdminEmail));
        Assert.That(audit, Does.Not.Contain("organization.created"));
    }
}
