using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>Seats in use against the quota or share at a glance, and unshared seats named to the server admin.</summary>
public class SeatMeterTests : LicenseTest
{
    [Test]
    public async Task Meters_show_seats_in_use_against_the_share_and_the_license_and_unshared_seats_are_named()
    {
        await MembersAsync(2);
        using (await AssignAsync(Admin, "user0@acme.test, user1@acme.test")) { }

        var management = await Admin.GetTextAsync(Page());
        Assert.That(management, Does.Contain("<meter min=\"0\" max=\"10\" value=\"2\" high=\"8\" optimum=\"0\" aria-label=\"KSE seats in use of this organization&#x27;s share\""));

        var all = await Admin.GetTextAsync("/Admin/Licenses");
        Assert.That(all, Does.Contain("aria-label=\"KSE seats in use of ACME QA&#x27;s share\""));
        Assert.That(all, Does.Contain("<meter min=\"0\" max=\"10\" value=\"10\" high=\"8\" optimum=\"0\" aria-label=\"KSE seats shared of the license\""));
        Assert.That(all, Does.Not.Contain("data-testid=\"unshared-"), "every seat is shared");
        var dashboard = await Admin.GetTextAsync("/");
        Assert.That(dashboard, Does.Contain("aria-label=\"KSE seats in use of the license\"").And.Not.Contain("data-testid=\"unshared-"));

        await AllocateAsync(Org, "KRE", 3);
        Assert.That(await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Licenses")),
            Does.Contain("2 KRE seats are not shared with any organization yet: nobody can use them until you give them to an organization below."));
        Assert.That(await ConsoleClient.TextOf(await Admin.GetAsync("/")),
            Does.Contain("2 KRE seats are not shared with any organization yet: give them to an organization under"));

        var member = await SignedInAsync("user0@acme.test");
        Assert.That(await member.GetTextAsync("/"), Does.Not.Contain("<meter").And.Not.Contain("not shared"), "the server's totals are for the server admin");
    }
}
