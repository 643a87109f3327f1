using LicenseServer.Client;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Testing;
using Npgsql;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>A Member who replaced a laptop sees their licenses and machines, frees the old one, and activates the new one when its lease is out.</summary>
public class MyLicensesFlowTests : BrowserTest
{
    [Test]
    public async Task A_member_at_the_machine_limit_deactivates_the_old_laptop_on_My_licenses_and_the_new_one_gets_its_place()
    {
        var clock = new TestClock();
        await using var server = await SignedInServerAsync(clock);
        var org = await CreateOrganizationAsync(server, "ACME Movers", ("KSE", 5));
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        string member;
        await using (var db = new NpgsqlConnection(server.ConnectionString)) member = (await Members.AddAsync(db, org, 1, "mover"))[0];
        using (await http.PostFormAsync($"/Organizations/{org}/Licenses?product=KSE&handler=Assign", new Dictionary<string, string> { ["emails"] = member },
                   tokenPage: $"/Organizations/{org}/Licenses?product=KSE")) { }
        using var kit = new KitClient(new Uri(server.BaseUrl), TestServer.Vendor.PublicKey, clock: clock);
        await kit.LoginAsync(member, ConsoleTest.Password);
        await kit.ActivateAsync(org, "KSE", "OLD-LAPTOP");
        await kit.ActivateAsync(org, "KSE", "DESK-01");
        Assert.That(Assert.ThrowsAsync<KitApiException>(() => kit.ActivateAsync(org, "KSE", "NEW-LAPTOP"))!.Code, Is.EqualTo("machine_limit"));

        var context = await (await SharedBrowser.GetAsync()).NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(server.BaseUrl + "/Account/SignIn");
        await page.FillAsync("#email", member);
        await page.FillAsync("#password", ConsoleTest.Password);
        await page.ClickAsync("button:has-text('Sign in')");
        await page.ClickAsync("header nav >> text=My licenses");
        Assert.That(await page.GetByTestId("my-assignments").InnerTextAsync(), Does.Contain("ACME Movers").And.Contain("Studio Enterprise (KSE)"));
        var machines = page.GetByTestId("my-machines");
        Assert.That(await machines.InnerTextAsync(), Does.Contain("OLD-LAPTOP").And.Contain("DESK-01"));

        await machines.Locator("tr[data-machine='OLD-LAPTOP'] button:has-text('Deactivate')").ClickAsync();
        Assert.That(await page.GetByTestId("confirm").Locator("h2").InnerTextAsync(), Is.EqualTo("Deactivate OLD-LAPTOP for KSE?"));
        Assert.That(await machines.InnerTextAsync(), Does.Contain("OLD-LAPTOP"), "nothing happens before the confirmation");
        await page.GetByTestId("confirm").Locator("button:has-text('Deactivate')").ClickAsync();
        Assert.That(await page.GetByTestId("info").InnerTextAsync(), Is.EqualTo("OLD-LAPTOP has been deactivated for KSE."));
        Assert.That(await machines.InnerTextAsync(), Does.Not.Contain("OLD-LAPTOP").And.Contain("DESK-01"));
        await context.CloseAsync();

        var lingering = Assert.ThrowsAsync<KitApiException>(() => kit.ActivateAsync(org, "KSE", "NEW-LAPTOP"))!;
        Assert.That(lingering.Message, Does.Contain("still hold a lease valid offline"), "the old laptop's lease still works offline");
        clock.Offset += TimeSpan.FromDays(8);
        await kit.LoginAsync(member, ConsoleTest.Password);
        Assert.That((await kit.ActivateAsync(org, "KSE", "NEW-LAPTOP")).MachineId, Is.EqualTo("NEW-LAPTOP"), "once the old lease is out, the new laptop takes its place");
    }
}
