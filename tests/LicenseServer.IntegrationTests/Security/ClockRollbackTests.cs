using System.Net;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// The customer against the vendor: a license that ended stays ended when the server's clock is set back
/// into its old validity. Checkouts, activations, renewals, heartbeats and offline licenses are refused with
/// <c>clock_tampering</c>, and the console says why; small corrections of the clock are not tampering.
/// </summary>
public class ClockRollbackTests : SeatRuleTest
{
    private static readonly TimeSpan PastTheLicense = TimeSpan.FromDays(366);

    private async Task<(KitClient Floating, KitClient PerUser)> ClientsAsync()
    {
        await MembersAsync(1);
        using (await AssignAsync(Admin, "user0@acme.test")) { }
        return (await ApiKeyClientAsync("user0@acme.test"), await SignedInKitClientAsync("user0@acme.test"));
    }

    /// <summary>An offline license made in the console, signed in afresh (a console session does not survive the clock's jumps).</summary>
    private async Task<HttpResponseMessage> OfflineAsync(ConsoleClient admin) =>
        await admin.PostFormAsync(Page() + "&handler=CreateOffline", new Dictionary<string, string> { ["machineId"] = "WS-1", ["expiry"] = "" }, tokenPage: Page());

    [Test]
    public async Task A_clock_set_back_30_days_into_an_ended_license_refuses_checkouts_activations_and_offline_licenses()
    {
        var (floating, perUser) = await ClientsAsync();
        using (floating)
        using (perUser)
        {
            await using var held = await floating.CheckoutAsync("KRE", "M-1", "1", autoHeartbeat: false);

            // The license ended (it ran 365 days): the server refuses, as it should.
            Clock.Offset = PastTheLicense;
            Assert.That(Refused(() => floating.CheckoutAsync("KRE", "M-2", "2", autoHeartbeat: false)).Code, Is.EqualTo("license_expired"));

            // Back 30 days, into the license's old validity.
            Clock.Offset = PastTheLicense - TimeSpan.FromDays(30);
            var checkout = Refused(() => floating.CheckoutAsync("KRE", "M-2", "2", autoHeartbeat: false));
            Assert.That((checkout.Status, checkout.Code), Is.EqualTo((403, "clock_tampering")));
            Assert.That(checkout.Message, Does.Contain("behind").And.Contain("the latest time this server has seen"));
            Assert.That(Refused(() => perUser.ActivateAsync(Org, "KSE", "M-1")).Code, Is.EqualTo("clock_tampering"));
            Assert.That(Refused(() => held.HeartbeatAsync()).Code, Is.EqualTo("clock_tampering"));
            using var admin = await SignedInAsync(AdminEmail);
            using (var offline = await OfflineAsync(admin))
            {
                Assert.That(offline.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
                Assert.That(await ConsoleClient.TextOf(offline), Does.Contain("behind"));
            }
            Assert.That(await CountAsync("SELECT count(*) FROM offline_license"), Is.Zero);
            var dashboard = await admin.GetTextAsync("/");
            Assert.That(dashboard, Does.Contain("data-testid=\"clock-banner\"").And.Contain("Checkouts, activations, renewals and offline licenses are refused"));
        }
    }

    [Test]
    public async Task A_clock_corrected_by_a_few_hours_is_not_tampering_and_a_clock_put_right_serves_again()
    {
        var (floating, perUser) = await ClientsAsync();
        using (floating)
        using (perUser)
        {
            Clock.Offset = TimeSpan.FromDays(40);
            await perUser.LoginAsync("user0@acme.test", Password);
            await using (await floating.CheckoutAsync("KRE", "M-1", "1", autoHeartbeat: false)) { }
            // Daylight saving, a time zone mix-up, an NTP correction: hours, not days.
            Clock.Offset = TimeSpan.FromDays(40) - TimeSpan.FromHours(2);
            await using (await floating.CheckoutAsync("KRE", "M-1", "2", autoHeartbeat: false)) { }
            Assert.That((await perUser.ActivateAsync(Org, "KSE", "M-1")).Product, Is.EqualTo("KSE"));

            Clock.Offset = TimeSpan.FromDays(10);
            Assert.That(Refused(() => floating.CheckoutAsync("KRE", "M-1", "3", autoHeartbeat: false)).Code, Is.EqualTo("clock_tampering"));
            Clock.Offset = TimeSpan.FromDays(40);
            await using (await floating.CheckoutAsync("KRE", "M-1", "4", autoHeartbeat: false)) { }
            using var admin = await SignedInAsync(AdminEmail);
            Assert.That(await admin.GetTextAsync("/"), Does.Not.Contain("clock-banner"));
        }
    }

    [Test]
    public async Task A_second_node_started_with_its_clock_set_back_refuses_too()
    {
        var (floating, perUser) = await ClientsAsync();
        perUser.Dispose();
        using (floating)
        {
            Clock.Offset = PastTheLicense;
            Assert.That(Refused(() => floating.CheckoutAsync("KRE", "M-1", "1", autoHeartbeat: false)).Code, Is.EqualTo("license_expired"));
            // A minute passes: this node writes the latest time it has seen.
            await Server.Service<LicenseServer.Web.Activation.ClockGuard>().SyncAsync();

            var behind = new TestClock { Offset = PastTheLicense - TimeSpan.FromDays(30) };
            await using var second = await TestServer.StartAsync(behind, Server.ConnectionString);
            using var client = new KitClient(new Uri(second.BaseUrl), TestServer.Vendor.PublicKey, clock: behind) { ApiKey = floating.ApiKey };
            Assert.That(Refused(() => client.CheckoutAsync("KRE", "M-1", "2", autoHeartbeat: false)).Code, Is.EqualTo("clock_tampering"));
        }
    }
}
