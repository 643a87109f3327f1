using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>How often a user's machines may become active per product is capped.</summary>
public class ChurnLimitTests : SeatRuleTest
{
    // A small limit to reach, and room for machines so that the machine limit stays out of the way.
    protected override string[] ServerSettings => ["--Kit:Clients:ChurnLimit=3", "--Kit:Clients:MachinesPerUser=10"];
    protected override LicenseServer.Core.Activation.VendorLimits LicenseLimits => new(MachinesPerUser: 10);

    [SetUp]
    public async Task LicenseDev()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }
    }

    [Test]
    public async Task Activations_past_the_limit_are_refused_until_the_window_has_passed_and_renewals_do_not_count()
    {
        using var dev = await SignedInKitClientAsync("dev@acme.test");
        await dev.ActivateAsync(Org, "KSE", "M-1");
        DateTime first;
        await using (var db = Db()) first = await db.ExecuteScalarAsync<DateTime>("SELECT min(at) FROM machine_activation_event");
        await dev.ActivateAsync(Org, "KSE", "M-2");
        await dev.ActivateAsync(Org, "KSE", "M-3");
        await dev.ActivateAsync(Org, "KSE", "M-1"); // a renewal of an active machine
        await dev.ActivateAsync(Org, "KSE", "M-2");

        var refused = Refused(() => dev.ActivateAsync(Org, "KSE", "M-4"));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((409, "churn_limit")));
        Assert.That(refused.Message, Is.EqualTo("You activated KSE on a machine 3 times in the last 30 days, the most this product allows. " +
            $"The next activation is possible from {first.AddDays(30):yyyy-MM-dd HH:mm} UTC."));
        Assert.That(await CountAsync("SELECT count(*) FROM machine_activation WHERE machine_id = 'M-4'"), Is.Zero, "nothing was stored");
        Assert.That(await CountAsync("SELECT count(*) FROM machine_activation_event"), Is.EqualTo(3));

        await dev.DeactivateAsync(Org, "KSE", "M-1");
        Assert.That(Refused(() => dev.ActivateAsync(Org, "KSE", "M-1")).Code, Is.EqualTo("churn_limit"), "re-activating a deactivated machine counts");
        await dev.ActivateAsync(Org, "KSE", "M-2"); // renewals go on

        Clock.Offset = TimeSpan.FromDays(31);
        using var later = await SignedInKitClientAsync("dev@acme.test"); // the old token expired with the jump
        await later.ActivateAsync(Org, "KSE", "M-1");
        await later.ActivateAsync(Org, "KSE", "M-4");
        Assert.That(await CountAsync("SELECT count(*) FROM machine_activation WHERE deactivated_at IS NULL"), Is.EqualTo(4));
        Assert.That(await AuditAsync("license.machine_activated"), Has.Count.EqualTo(5));
    }

    [Test]
    public async Task The_server_admin_sets_a_limit_per_product_and_can_go_back_to_the_default()
    {
        var admin = "/Admin/Licenses";
        Assert.That(await Admin.GetTextAsync(admin), Does.Contain("3 activations in 30 days (default)"));
        using (var set = await Admin.PostFormAsync(admin + "?handler=ChurnLimit", new Dictionary<string, string>
               { ["product"] = "KSE", ["activations"] = "1", ["days"] = "31" }, tokenPage: admin))
            Redirected(set, await ConsoleClient.TextOf(set));
        Assert.That(await Admin.GetTextAsync(admin), Does.Contain("<td data-testid=\"churn-limit\">1 activation in 31 days</td>"));
        using (var bad = await Admin.PostFormAsync(admin + "?handler=ChurnLimit", new Dictionary<string, string>
               { ["product"] = "KSE", ["activations"] = "0", ["days"] = "1" }, tokenPage: admin))
        {
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(bad), Does.Contain("Enter the number of activations (1 or more)"));
        }

        using var dev = await SignedInKitClientAsync("dev@acme.test");
        await dev.ActivateAsync(Org, "KSE", "M-1");
        var refused = Refused(() => dev.ActivateAsync(Org, "KSE", "M-2"));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((409, "churn_limit")));
        Assert.That(refused.Message, Does.StartWith("You activated KSE on a machine 1 time in the last 31 days, the most this product allows."));

        using (var reset = await Admin.PostFormAsync(admin + "?handler=ChurnLimit", new Dictionary<string, string>
               { ["product"] = "KSE", ["activations"] = "", ["days"] = "" }, tokenPage: admin))
            Redirected(reset);
        await dev.ActivateAsync(Org, "KSE", "M-2");
        await using var db = Db();
        Assert.That(await db.QueryAsync<string>(
                "SELECT subject || ': ' || details FROM audit_event WHERE action = 'license.churn_limit_set' AND organization_id IS NULL ORDER BY id"),
            Is.EqualTo(new[] { "KSE: 1 activation in 31 days", "KSE: default (3 activations in 30 days)" }));
    }
}
