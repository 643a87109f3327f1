using System.Net;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// The limits that make seats scarce come from the vendor's .lic; the server's settings and its admin may only
/// tighten them. Leases, machine counts, churn and floating sessions obey the tighter of the two.
/// </summary>
public class VendorLimitTests : SeatRuleTest
{
    private const string AdminLicenses = "/Admin/Licenses";

    [SetUp]
    public async Task LicenseDev()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }
    }

    /// <summary>Uploads a newer .lic with these license-wide limits, and KSE's own when given.</summary>
    private async Task UploadAsync(VendorLimits? limits = null, VendorLimits? kse = null, TestServer? on = null)
    {
        var server = on ?? Server;
        await server.Service<ActivationService>().ActivateAsync(await server.LicenseAsync(
            o => kse is null ? o : o with { Products = [o.Products[0] with { Limits = kse }, .. o.Products.Skip(1)] }, limits: limits));
    }

    private static DateTimeOffset Utc(DateTime at) => new(DateTime.SpecifyKind(at, DateTimeKind.Utc));

    private async Task<DateTimeOffset> StoredLeaseAsync(string machineId)
    {
        await using var db = Db();
        return Utc(await db.ExecuteScalarAsync<DateTime>("SELECT lease_expires_at FROM machine_activation WHERE machine_id = @machineId", new { machineId }));
    }

    private static void AssertLeaseDays(Lease lease, string machineId, int days)
    {
        var payload = new KitVerifier(TestServer.Vendor.PublicKey).VerifyLease(lease.LeaseText, machineId);
        Assert.That(payload.ExpiresAt, Is.EqualTo(DateTimeOffset.UtcNow.AddDays(days)).Within(TimeSpan.FromMinutes(1)), "the signed lease's expiry");
        Assert.That(payload.ExpiresAt - payload.IssuedAt, Is.LessThanOrEqualTo(TimeSpan.FromDays(days)), "never beyond issuedAt + leaseDays");
        Assert.That(lease.ExpiresAt, Is.EqualTo(payload.ExpiresAt));
    }

    [Test]
    public async Task A_lease_lasts_only_as_long_as_the_vendors_license_allows_while_the_setting_is_unset()
    {
        // A second node started before the upload has not re-read the license yet: its leases obey the .lic they carry all the same.
        await using var other = await TestServer.StartAsync(Server.ConnectionString);
        await UploadAsync(kse: new VendorLimits(LeaseDays: 3));

        using var dev = await SignedInKitClientAsync("dev@acme.test");
        AssertLeaseDays(await dev.ActivateAsync(Org, "KSE", "M-1"), "M-1", 3);
        AssertLeaseDays(await dev.ActivateAsync(Org, "KSE", "M-1"), "M-1", 3); // the renewal's path
        Assert.That(await StoredLeaseAsync("M-1"), Is.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddDays(3)), "the seat is held as long as the lease, no longer");

        using var viaOther = new KitClient(new Uri(other.BaseUrl), TestServer.Vendor.PublicKey);
        await viaOther.LoginAsync("dev@acme.test", Password);
        AssertLeaseDays(await viaOther.ActivateAsync(Org, "KSE", "M-2"), "M-2", 3);
        AssertLeaseDays(await viaOther.ActivateAsync(Org, "KSE", "M-2"), "M-2", 3);
    }

    [Test]
    public async Task A_smaller_setting_wins_over_the_vendors_limit()
    {
        await UploadAsync(kse: new VendorLimits(LeaseDays: 3));
        await using var node = await TestServer.StartAsync(Server.ConnectionString, null, "--Kit:Clients:LeaseDays=2");
        using var dev = new KitClient(new Uri(node.BaseUrl), TestServer.Vendor.PublicKey);
        await dev.LoginAsync("dev@acme.test", Password);
        AssertLeaseDays(await dev.ActivateAsync(Org, "KSE", "M-1"), "M-1", 2);
    }

    [TestCase("--Kit:Clients:LeaseDays=3650", "Kit:Clients:LeaseDays is 3650, but the vendor's license allows at most 7 days for KSE. Lower the setting or remove it.")]
    [TestCase("--Kit:Clients:MachinesPerUser=1000", "Kit:Clients:MachinesPerUser is 1000, but the vendor's license allows at most 2 machines per user for KSE. Lower the setting or remove it.")]
    [TestCase("--Kit:Clients:ChurnLimit=11", "Kit:Clients:ChurnLimit is 11, but the vendor's license allows at most 10 activations per user for KSE. Lower the setting or remove it.")]
    [TestCase("--Kit:Clients:ChurnWindowDays=7", "Kit:Clients:ChurnWindowDays is 7, but the vendor's license counts activations over at least 30 days for KSE. Raise the setting or remove it.")]
    [TestCase("--Kit:Clients:SessionLeaseSeconds=600", "Kit:Clients:SessionLeaseSeconds is 600, but the vendor's license allows at most 330 seconds for KRE. Lower the setting or remove it.")]
    public void A_setting_beyond_the_vendors_license_stops_the_server_at_start(string setting, string sentence)
    {
        var e = Assert.ThrowsAsync<StartupException>(async () => await (await TestServer.StartAsync(Server.ConnectionString, null, setting)).DisposeAsync())!;
        Assert.That(e.Message, Is.EqualTo(sentence));
    }

    [Test]
    public async Task A_license_below_an_explicit_setting_is_refused_at_upload_and_the_active_one_stays()
    {
        await using var node = await TestServer.StartAsync(Server.ConnectionString, null, "--Kit:Clients:LeaseDays=5");
        var e = Assert.ThrowsAsync<LicenseRejectedException>(() => UploadAsync(kse: new VendorLimits(LeaseDays: 3), on: node))!;
        Assert.That(e.Message, Is.EqualTo("Kit:Clients:LeaseDays is 5 on this server, but this license allows at most 3 days for KSE. " +
                                          "Lower the setting or remove it and restart the server, then upload the license again."));
        Assert.That(e.Code, Is.EqualTo("limits_below_settings"));
        await using var db = Db();
        Assert.That(LicenseVerifier.ReadStored((await db.ExecuteScalarAsync<string>("SELECT file_text FROM server_license"))!).Product("KSE")!.Limits, Is.Null);

        await UploadAsync(kse: new VendorLimits(LeaseDays: 5), on: node); // as far as the setting goes is allowed
    }

    [Test]
    public async Task With_one_machine_per_user_in_the_license_the_second_machine_is_refused()
    {
        await UploadAsync(new VendorLimits(MachinesPerUser: 1));
        using var dev = await SignedInKitClientAsync("dev@acme.test");
        await dev.ActivateAsync(Org, "KSE", "M-1");
        var refused = Refused(() => dev.ActivateAsync(Org, "KSE", "M-2"));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((409, "machine_limit")));
        Assert.That(refused.Message, Does.Contain("active on 1 machines, the limit"));
    }

    [Test]
    public async Task A_checkout_and_its_heartbeats_last_no_longer_than_the_vendors_session_lease()
    {
        await UploadAsync(new VendorLimits(SessionLeaseSeconds: 120));
        using var ci = await ApiKeyClientAsync("dev@acme.test");
        await using var session = await ci.CheckoutAsync("KRE", "CI-1", "1", autoHeartbeat: false);
        Assert.That(session.ExpiresAt, Is.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddSeconds(120)));
        Assert.That(session.ExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow.AddSeconds(100)));
        Assert.That(session.HeartbeatInterval, Is.LessThanOrEqualTo(TimeSpan.FromSeconds(60)));
        await session.HeartbeatAsync();
        Assert.That(session.ExpiresAt, Is.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddSeconds(120)));
        await using var db = Db();
        Assert.That(Utc(await db.ExecuteScalarAsync<DateTime>("SELECT expires_at FROM floating_session")), Is.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddSeconds(120)));
    }

    private async Task<HttpResponseMessage> SetChurnAsync(string activations, string days) =>
        await Admin.PostFormAsync(AdminLicenses + "?handler=ChurnLimit", new Dictionary<string, string>
            { ["product"] = "KSE", ["activations"] = activations, ["days"] = days }, tokenPage: AdminLicenses);

    [Test]
    public async Task The_server_admins_churn_limit_may_only_tighten_the_vendors()
    {
        await UploadAsync(kse: new VendorLimits(ChurnLimit: 4, ChurnWindowDays: 60));
        Assert.That(await Admin.GetTextAsync(AdminLicenses), Does.Contain("4 activations in 60 days (default)"));
        foreach (var (activations, days) in new[] { ("5", "60"), ("4", "59"), ("100", "1") })
        {
            using var looser = await SetChurnAsync(activations, days);
            Assert.That(looser.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), $"{activations} in {days}");
            Assert.That(await ConsoleClient.TextOf(looser), Does.Contain(
                "The vendor's license allows at most 4 activations in 60 days for KSE: enter at most 4 activations over at least 60 days, or leave both empty to use the default."));
        }
        using (var tighter = await SetChurnAsync("2", "90")) Redirected(tighter, await ConsoleClient.TextOf(tighter));
        Assert.That(await Admin.GetTextAsync(AdminLicenses), Does.Contain("<td data-testid=\"churn-limit\">2 activations in 90 days</td>"));
    }

    [Test]
    public async Task A_churn_limit_the_server_admin_set_before_a_stricter_license_follows_the_license()
    {
        using (var set = await SetChurnAsync("5", "30")) Redirected(set, await ConsoleClient.TextOf(set));
        await UploadAsync(kse: new VendorLimits(ChurnLimit: 1));

        using var dev = await SignedInKitClientAsync("dev@acme.test");
        await dev.ActivateAsync(Org, "KSE", "M-1");
        var refused = Refused(() => dev.ActivateAsync(Org, "KSE", "M-2"));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((409, "churn_limit")));
        Assert.That(refused.Message, Does.StartWith("You activated KSE on a machine 1 time in the last 30 days"));
    }

    [Test]
    public async Task A_recalled_license_shows_when_its_held_seat_returns()
    {
        using var dev = await SignedInKitClientAsync("dev@acme.test");
        var lease = await dev.ActivateAsync(Org, "KSE", "M-1");
        var userId = await UserIdAsync("dev@acme.test");
        using (var unassigned = await LicensesFormAsync("KSE", "Unassign", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = userId.ToString() }))
            Redirected(unassigned, await ConsoleClient.TextOf(unassigned));

        var page = await Admin.GetTextAsync(Page());
        Assert.That(page, Does.Contain("data-testid=\"held-seats\""));
        Assert.That(page, Does.Contain($"<td>dev@acme.test</td><td data-testid=\"held-until\">held until {LicenseVerifier.Format(await StoredLeaseAsync("M-1"))}</td>"));
        Assert.That(await StoredLeaseAsync("M-1"), Is.EqualTo(lease.ExpiresAt).Within(TimeSpan.FromSeconds(1)));

        Clock.Offset = TimeSpan.FromDays(8);
        var later = await SignedInAsync(AdminEmail); // the console session ended with the jump
        var after = await later.GetTextAsync(Page());
        Assert.That(after, Does.Contain("License Management").And.Not.Contain("held until"), "the seat has returned");
    }
}
