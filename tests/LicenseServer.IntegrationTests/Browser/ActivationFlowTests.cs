using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Browser;

public class ActivationFlowTests : BrowserTest
{
    [Test]
    public async Task Activate_with_a_license_for_the_downloaded_request_then_create_the_default_account_and_sign_in()
    {
        await using var server = await TestServer.StartAsync();

        await Page.GotoAsync(server.BaseUrl + "/");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Activate"));
        var installationId = await Page.GetByTestId("installation-id").InnerTextAsync();
        Assert.That(installationId, Is.EqualTo((await server.IdentityAsync()).InstallationId));

        await Page.FillAsync("#companyId", "C-42");
        var download = await Page.RunAndWaitForDownloadAsync(() => Page.ClickAsync("text=Generate a license request file"));
        Assert.That(download.SuggestedFilename, Is.EqualTo("kit-license-request.json"));
        var request = LicenseRequest.Parse(await File.ReadAllTextAsync((await download.PathAsync())!));
        Assert.That(request.InstallationId, Is.EqualTo(installationId));

        // The vendor answers the request with a .lic.
        var now = DateTimeOffset.UtcNow;
        var order = new LicenseOrder("ACME Corp", request.CompanyId, request.InstallationId, request.ServerPublicKey, now.AddDays(-1), now.AddDays(365),
            [LicenseIssuer.ParseProduct("KSE:per-user:10:annual:Studio Enterprise", now.AddDays(365)),
             LicenseIssuer.ParseProduct("KRE:floating:5:perpetual:Runtime Engine", null)]);
        var lic = LicenseIssuer.Issue(order, TestServer.Vendor, now.AddMinutes(-1)).ToText();

        // First a tampered copy: refused with its message, and the server stays un-activated.
        var parsed = LicenseFile.Parse(lic);
        var payload = (byte[])parsed.Payload.Clone();
        payload[10] ^= 1;
        await Page.SetInputFilesAsync("#licenseFile", new FilePayload { Name = "tampered.lic", MimeType = "application/octet-stream", Buffer = Encoding.UTF8.GetBytes((parsed with { Payload = payload }).ToText()) });
        await Page.ClickAsync("button:has-text('Activate')");
        Assert.That(await Page.GetByTestId("error").InnerTextAsync(), Does.Contain("signature does not match"));
        await Page.GotoAsync(server.BaseUrl + "/");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Activate"));

        await Page.SetInputFilesAsync("#licenseFile", new FilePayload { Name = "acme.lic", MimeType = "application/octet-stream", Buffer = Encoding.UTF8.GetBytes(lic) });
        await Page.ClickAsync("button:has-text('Activate')");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Setup"));

        await Page.FillAsync("#setupCode", server.SetupCode());
        await Page.FillAsync("#email", "admin@acme.test");
        await Page.FillAsync("#password", "correct horse");
        await Page.FillAsync("#confirmation", "correct horse");
        await Page.ClickAsync("button:has-text('Create account')");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Account/SignIn"));

        await Page.FillAsync("#email", "admin@acme.test");
        await Page.FillAsync("#password", "wrong password");
        await Page.ClickAsync("button:has-text('Sign in')");
        Assert.That(await Page.GetByTestId("error").InnerTextAsync(), Is.EqualTo("The email or password is not correct."));

        await Page.FillAsync("#password", "correct horse");
        await Page.ClickAsync("button:has-text('Sign in')");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/"));
        Assert.That(await Page.GetByTestId("signed-in-as").InnerTextAsync(), Is.EqualTo("admin@acme.test"));
        var products = await Page.GetByTestId("products").InnerTextAsync();
        Assert.That(products, Does.Contain("Studio Enterprise").And.Contain("KSE").And.Contain("Runtime Engine").And.Contain("KRE"));
        Assert.That(await Page.Locator(".demo-banner").IsVisibleAsync(), Is.True);

        await Page.ClickAsync("button:has-text('Sign out')");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Account/SignIn"));
        await Page.GotoAsync(server.BaseUrl + "/");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/Account/SignIn"));
    }
}
