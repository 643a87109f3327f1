using System.Net;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Organizations;

namespace LicenseServer.IntegrationTests.Browser;

public class LicenseFlowTests : BrowserTest
{
    [Test]
    public async Task Assign_a_license_to_two_users_then_create_and_download_an_offline_license()
    {
        await using var server = await SignedInServerAsync();
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        using var created = await http.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = "ACME QA" });
        var org = created.RedirectPath();
        foreach (var email in new[] { "alice@acme.test", "bob@acme.test" })
        {
            using var invited = await http.PostFormAsync($"{org}/Users?handler=Invite", new Dictionary<string, string> { ["emails"] = email }, tokenPage: $"{org}/Users");
            var link = System.Text.RegularExpressions.Regex.Match(await invited.Content.ReadAsStringAsync(), "value=\"(http[^\"]+Invitation[^\"]+)\"").Groups[1].Value;
            var token = Uri.UnescapeDataString(WebUtility.HtmlDecode(link).Split("token=")[1]);
            await server.Service<InvitationService>().AcceptWithPasswordAsync(token, null, "member pass 1", "member pass 1");
        }
        using (await http.PostFormAsync("/Admin/Licenses", new Dictionary<string, string> { ["organizationId"] = org.Split('/')[^1], ["product"] = "KSE", ["quota"] = "10" })) { }

        await Page.GotoAsync(server.BaseUrl + org);
        await Page.ClickAsync("text=License Management");
        await Page.ClickAsync("nav.tabs >> text=KSE (per-user)");

        await Page.FillAsync("#emails", "alice@acme.test, bob@acme.test");
        await Page.ClickAsync("button:has-text('Assign License')");
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("KSE has been assigned to 2 users."));
        var licensed = await Page.GetByTestId("licensed-users").InnerTextAsync();
        Assert.That(licensed, Does.Contain("alice@acme.test").And.Contain("bob@acme.test"));
        Assert.That(await Page.GetByTestId("available").InnerTextAsync(), Is.EqualTo("8"));
        await DocumentScreenshots.SaveAsync(Page, "license-management");

        await Page.FillAsync("#machineId", "ALICE-LAPTOP-01");
        await Page.ClickAsync("button:has-text('Create Offline License')");
        Assert.That(await Page.GetByTestId("confirm-offline").InnerTextAsync(), Does.Contain("KSE_ALICE-LAPTOP-01.lic").And.Contain("cannot be revoked"));
        await Page.ClickAsync("[data-testid=confirm-offline] button:has-text('Create')");
        Assert.That(await Page.GetByTestId("offline-licenses").InnerTextAsync(), Does.Contain("KSE_ALICE-LAPTOP-01.lic"));

        var download = await Page.RunAndWaitForDownloadAsync(() => Page.ClickAsync("[data-testid=offline-licenses] a:has-text('KSE_ALICE-LAPTOP-01.lic')"));
        Assert.That(download.SuggestedFilename, Is.EqualTo("KSE_ALICE-LAPTOP-01.lic"));
        var text = await File.ReadAllTextAsync((await download.PathAsync())!);
        var payload = OfflineLicenseFile.Verify(text, new TrustedVendorKeys([TestServer.Vendor.PublicKey]), TimeProvider.System, "ALICE-LAPTOP-01");
        Assert.That(payload.ProductCode, Is.EqualTo("KSE"));
        Assert.That(await Page.GetByTestId("available").InnerTextAsync(), Is.EqualTo("7"), "the offline license holds a seat");
    }
}
