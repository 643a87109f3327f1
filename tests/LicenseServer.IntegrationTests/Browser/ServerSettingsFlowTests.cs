using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Browser;

public class ServerSettingsFlowTests : BrowserTest
{
    [Test]
    public async Task A_server_admin_sets_the_servers_mail_server_and_who_may_create_organizations()
    {
        await using var server = await SignedInServerAsync();
        // An organization with a mail server of its own, while the server has none: Forgot password is off, and the dashboard says so.
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        using var created = await http.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = "ACME QA" });
        var settings = created.RedirectPath() + "/Settings";
        using (await http.PostFormAsync(settings + "?handler=Update", new Dictionary<string, string>
               { ["host"] = "smtp.acme.test", ["port"] = "25", ["username"] = "", ["password"] = "", ["protocol"] = "plain", ["sender"] = "it@acme.test" }, tokenPage: settings)) { }
        await Page.GotoAsync(server.BaseUrl + "/");
        Assert.That(await Page.GetByTestId("server-mail-banner").InnerTextAsync(), Does.Contain("Forgot password is off"));

        await Page.ClickAsync("text=Set the server's mail server");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Admin/Settings"));
        Assert.That(await Page.GetByTestId("no-mail-server").InnerTextAsync(), Does.Contain("cannot reset a forgotten password"));
        await Page.FillAsync("#host", "smtp.acme.test");
        await Page.FillAsync("#port", "587");
        await Page.SelectOptionAsync("#protocol", "starttls");
        await Page.FillAsync("#sender", "licenses@acme.test");
        await Page.ClickAsync("button:has-text('Update')");
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("The server's mail server settings have been updated."));
        Assert.That(await Page.InputValueAsync("#port"), Is.EqualTo("587"));
        Assert.That(await Page.Locator("[data-testid=no-mail-server]").CountAsync(), Is.Zero);

        Assert.That(await Page.IsCheckedAsync("input[name=organizationCreation][value=server_admins]"), Is.True, "server admins only, by default");
        await Page.CheckAsync("input[name=organizationCreation][value=anyone]");
        await Page.ClickAsync("button:has-text('Save')");
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("Who may create organizations has been updated."));
        Assert.That(await Page.IsCheckedAsync("input[name=organizationCreation][value=anyone]"), Is.True);

        await Page.GotoAsync(server.BaseUrl + "/");
        Assert.That(await Page.Locator("[data-testid=server-mail-banner]").CountAsync(), Is.Zero);
        await Page.GotoAsync(server.BaseUrl + "/Account/ForgotPassword");
        Assert.That(await Page.Locator("button:has-text('Send reset link')").IsVisibleAsync(), Is.True);
    }
}
