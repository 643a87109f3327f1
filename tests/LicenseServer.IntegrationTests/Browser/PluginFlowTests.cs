using LicenseServer.IntegrationTests.Plugins;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Browser;

public class PluginFlowTests : BrowserTest
{
    [Test]
    public async Task Upload_a_plugin_package_and_see_it_listed()
    {
        await using var server = await SignedInServerAsync();
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        using var created = await http.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = "ACME QA" });
        var org = created.RedirectPath();
        await Page.GotoAsync(server.BaseUrl + org);
        await Page.ClickAsync("nav.tabs >> text=Plugins");

        await Page.SetInputFilesAsync("#package", new FilePayload
        {
            Name = "slack-notifier-1.0.0.zip", MimeType = "application/zip",
            Buffer = PluginTests.Package(PluginTests.Manifest(), ("lib/slack.jar", new byte[2048])),
        });
        await Page.ClickAsync("button:has-text('Upload')");
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("Slack Notifier 1.0.0 has been uploaded."));
        var listed = await Page.GetByTestId("plugins").InnerTextAsync();
        Assert.That(listed, Does.Contain("Slack Notifier").And.Contain("com.acme.slack").And.Contain("1.0.0").And.Contain(AdminEmail));

        // The vendor's packages, for every organization, are the server admin's: under Offline plugins.
        await Page.ClickAsync("header nav >> text=Offline plugins");
        await Page.SetInputFilesAsync("#package", new FilePayload
        {
            Name = "store-2.0.0.zip", MimeType = "application/zip",
            Buffer = PluginTests.Package(PluginTests.Manifest("com.vendor.store", "2.0.0"), ("lib/store.jar", new byte[2048])),
        });
        await Page.ClickAsync("button:has-text('Upload')");
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("Slack Notifier 2.0.0 has been uploaded for every organization."));
        await Page.GotoAsync(server.BaseUrl + org + "/Plugins");
        Assert.That(await Page.GetByTestId("offline-plugins").InnerTextAsync(), Does.Contain("com.vendor.store").And.Contain("2.0.0").And.Not.Contain(AdminEmail),
            "a tenant does not see who uploaded the server's packages");
        Assert.That(await Page.GetByTestId("plugins").InnerTextAsync(), Does.Not.Contain("com.vendor.store"), "offline packages are not the organization's own");
    }
}
