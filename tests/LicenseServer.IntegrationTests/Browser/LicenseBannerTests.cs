using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>Over-allocation and expiry warnings as an admin sees them in Chromium: the over-allocation banner after a smaller license, and the expiry banner.</summary>
public class LicenseBannerTests : BrowserTest
{
    [Test]
    public async Task A_smaller_license_uploaded_in_the_browser_shows_the_over_allocation_then_the_expiry_banner_on_the_dashboard()
    {
        var clock = new TestClock();
        await using var server = await SignedInServerAsync(clock);
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        using var created = await http.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = "ACME QA" });
        var org = created.RedirectPath().Split('/')[^1];
        using (await http.PostFormAsync("/Admin/Licenses", new Dictionary<string, string> { ["organizationId"] = org, ["product"] = "KSE", ["quota"] = "10" })) { }

        var validUntil = DateTimeOffset.UtcNow.Date.AddDays(400);
        var smaller = await server.LicenseAsync(o => o with
        {
            ValidUntil = validUntil,
            Products = [LicenseIssuer.ParseProduct("KSE:per-user:4:annual:Studio Enterprise", validUntil), LicenseIssuer.ParseProduct("KRE:floating:5:annual:Runtime Engine", validUntil)],
        }, issuedAt: DateTimeOffset.UtcNow);
        await Page.GotoAsync(server.BaseUrl + "/Activate");
        await Page.SetInputFilesAsync("#licenseFile", new Microsoft.Playwright.FilePayload { Name = "acme.lic", MimeType = "application/octet-stream", Buffer = smaller });
        await Page.ClickAsync("button:has-text('Activate')");
        Assert.That(await Page.GetByTestId("info").InnerTextAsync(), Does.Contain("is active"));
        var banner = Page.GetByTestId("over-allocation-banner");
        Assert.That(await banner.InnerTextAsync(), Does.Contain("the server's license now holds 4 KSE seats, but organizations have shares of 10 (0 in use)"));
        await banner.GetByText("Lower the shares under All licenses").ClickAsync();
        Assert.That(Page.Url, Does.EndWith("/Admin/Licenses"));
        await Page.FillAsync("input[aria-label='KSE share of ACME QA']", "4");
        await Page.ClickAsync("[data-testid='allocations-KSE'] button:has-text('Save')");
        Assert.That(await Page.GetByTestId("over-allocation-banner").CountAsync(), Is.Zero, "the banner goes once the shares fit");
        Assert.That(await Page.GetByTestId("expiry-banner").CountAsync(), Is.Zero);

        clock.SetNow(validUntil.AddDays(-7));
        await SignInAsync(server);
        var expiry = Page.GetByTestId("expiry-banner");
        Assert.That(await expiry.InnerTextAsync(), Does.StartWith("The server's license expires in 7 days"));
        Assert.That(await expiry.GetAttributeAsync("class"), Does.Contain("banner-urgent"));
        Assert.That(await expiry.EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor"), Is.Not.EqualTo("rgba(0, 0, 0, 0)"), "the banner is styled, not bare text");
    }
}
