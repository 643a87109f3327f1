using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Activation;

/// <summary>A newer license in place, deleting licenses, and the expiry warnings, on a clock the test controls.</summary>
public partial class LicenseLifecycleTests : LicenseTest
{
    private async Task<byte[]> LicenseWithAsync(int kseQuota, DateTimeOffset issuedAt, DateTimeOffset? validUntil = null, DateTimeOffset? productsEnd = null)
    {
        var end = validUntil ?? DateTimeOffset.UtcNow.AddDays(365);
        return await Server.LicenseAsync(o => o with
        {
            ValidUntil = end,
            Products =
            [
                LicenseIssuer.ParseProduct($"KSE:per-user:{kseQuota}:annual:Studio Enterprise", productsEnd ?? end),
                LicenseIssuer.ParseProduct("KRE:floating:5:annual:Runtime Engine", productsEnd ?? end),
            ],
        }, issuedAt: issuedAt);
    }

    private async Task UploadAsync(byte[] license, HttpStatusCode expected = HttpStatusCode.Redirect)
    {
        using var response = await Admin.UploadLicenseAsync(license);
        Assert.That(response.StatusCode, Is.EqualTo(expected), await ConsoleClient.TextOf(response));
    }

    private static async Task<string> TextAsync(ConsoleClient client, string path) => WebUtility.HtmlDecode(await client.GetTextAsync(path));

    private static int Count(string html, string testId) => Regex.Matches(html, $"data-testid=\"{testId}\"").Count;

    [Test]
    public async Task A_larger_then_a_smaller_license_keeps_every_assignment_and_shows_the_over_allocation()
    {
        await UploadAsync(await LicenseWithAsync(20, DateTimeOffset.UtcNow.AddSeconds(-2)));
        await AllocateAsync(Org, "KSE", 20);
        var users = await MembersAsync(15);
        using (var assigned = await AssignAsync(Admin, string.Join("\n", users)))
            Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the larger license holds 20 seats");

        await UploadAsync(await LicenseWithAsync(8, DateTimeOffset.UtcNow));
        Assert.That(await AssignedAsync(), Is.EqualTo(15), "nothing is dropped silently");
        foreach (var page in new[] { "/", "/Admin/Licenses", Page(), "/Activate" })
        {
            var html = await TextAsync(Admin, page);
            Assert.That(html, Does.Contain("Over-allocated: the server's license now holds 8 KSE seats, but organizations have shares of 20 (15 in use)."), page);
        }

        await AddMemberAsync(Org, "late@acme.test");
        using (var refused = await AssignAsync(Admin, "late@acme.test"))
        {
            Assert.That(refused.StatusCode, Is.Not.EqualTo(HttpStatusCode.Redirect));
            Assert.That(await ConsoleClient.TextOf(refused), Does.Contain("Nothing new is granted until the server admin lowers the shares"));
        }
        Assert.That(await AssignedAsync(), Is.EqualTo(15));

        // The admin resolves it: frees seats, lowers the share; the banner goes and grants work again within the new quota.
        foreach (var user in users.Take(8))
        {
            using var recalled = await Admin.PostFormAsync(Page() + "&handler=Unassign", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = (await UserIdAsync(user)).ToString() }, tokenPage: Page());
            Assert.That(recalled.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "seats can be freed while over-allocated");
        }
        await AllocateAsync(Org, "KSE", 8);
        Assert.That(Count(await Admin.GetTextAsync("/Admin/Licenses"), "over-allocation-banner"), Is.Zero);
        using (var granted = await AssignAsync(Admin, "late@acme.test"))
            Assert.That(granted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(granted));
    }

    [Test]
    public async Task Deleting_licenses_keeps_the_data_and_the_next_upload_brings_it_back()
    {
        var users = await MembersAsync(3);
        (await AssignAsync(Admin, string.Join("\n", users))).Dispose();
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await kit.LoginAsync(users[0], Password);
        await kit.ActivateAsync(Org, "KSE", "DEV-BOX-1");

        using (var unconfirmed = await Admin.PostFormAsync("/Activate?handler=Delete", [], tokenPage: "/Activate"))
            Assert.That(await ConsoleClient.TextOf(unconfirmed), Does.Contain("Tick the box to confirm"));
        using (var deleted = await Admin.PostFormAsync("/Activate?handler=Delete", new Dictionary<string, string> { ["confirm"] = "yes" }, tokenPage: "/Activate"))
            Assert.That(deleted.RedirectPath(), Is.EqualTo("/Activate"));

        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM server_license"), Is.Zero);
        Assert.That(await AssignedAsync(), Is.EqualTo(3), "assignments are kept");
        using (var dashboard = await Admin.GetAsync("/"))
            Assert.That(dashboard.RedirectPath(), Is.EqualTo("/Activate"), "the console leads to the upload page");
        Assert.That(await Admin.GetTextAsync("/Activate"), Does.Contain("The license was deleted."));
        var refused = Assert.ThrowsAsync<KitApiException>(() => kit.ActivateAsync(Org, "KSE", "DEV-BOX-1"))!;
        Assert.That(refused.Code, Is.EqualTo("server_not_activated"));

        // Without a license the upload page is not open to anyone: a stranger is sent to sign in, and can reach the sign-in page.
        var stranger = NewClient();
        using (var anonymous = await stranger.GetAsync("/Activate"))
            Assert.That(anonymous.RedirectPath(), Does.StartWith("/Account/SignIn"));
        using (var signIn = await stranger.GetAsync("/Account/SignIn"))
            Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await AddMemberAsync(Org, "member@acme.test");
        using (var member = await (await SignedInAsync("member@acme.test")).GetAsync("/Activate"))
            Assert.That(member.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        // An older license than the deleted one is still refused; the same one (or newer) restores everything.
        using (var older = await Admin.UploadLicenseAsync(await Server.LicenseAsync(issuedAt: DateTimeOffset.UtcNow.AddDays(-3))))
            Assert.That(await ConsoleClient.TextOf(older), Does.Contain("before the newest one activated here"));
        await UploadAsync(await Server.LicenseAsync(issuedAt: DateTimeOffset.UtcNow));
        Assert.That(await AssignedAsync(), Is.EqualTo(3));
        var lease = await kit.ActivateAsync(Org, "KSE", "DEV-BOX-1");
        Assert.That(lease.Product, Is.EqualTo("KSE"));
        Assert.That(await Admin.GetTextAsync(Page()), Does.Contain(users[2]));

        var history = await Admin.GetTextAsync("/Activate");
        Assert.That(history, Does.Match($"{AdminEmail}</td><td>license.uploaded</td>[\\s\\S]*{AdminEmail}</td><td>license.deleted</td>"),
            "the history names who uploaded and deleted, newest first");
    }

    [Test]
    public async Task Expiry_warnings_at_31_30_7_1_and_0_days()
    {
        var validUntil = DateTimeOffset.UtcNow.Date.AddDays(400);
        await UploadAsync(await LicenseWithAsync(10, DateTimeOffset.UtcNow, validUntil, productsEnd: validUntil.AddDays(60)));
        // The warnings are mailed through the server's own mail server.
        await Mail.ClearAsync();
        await UseMailDevForServerAsync();
        await AddMemberAsync(Org, "runner@acme.test");
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, await UserIdAsync("runner@acme.test"));
        using var runner = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = await Members.EngineKeyAsync(Server, membership!, "ci") };
        var watch = Server.Service<ExpiryWatch>();

        foreach (var (days, banner) in new (int, string?)[]
                 {
                     (31, null),
                     (30, "The server's license expires in 30 days"),
                     (7, "The server's license expires in 7 days"),
                     (1, "The server's license expires in 1 day,"),
                     (0, "The server's license expired on"),
                 })
        {
            Clock.SetNow(validUntil.AddDays(-days).AddMinutes(days == 0 ? 1 : 0));
            var admin = NewClient();
            using var signIn = await admin.SignInAsync(AdminEmail, Password);
            var dashboard = await TextAsync(admin, "/");
            var mailed = await watch.CheckAsync();
            var mailedAgain = await watch.CheckAsync();
            if (banner is null)
            {
                Assert.That(Count(dashboard, "expiry-banner"), Is.Zero, $"{days} days: no warning yet");
                Assert.That(mailed, Is.Zero);
            }
            else
            {
                Assert.That(dashboard, Does.Contain(banner), $"{days} days");
                Assert.That(mailed, Is.EqualTo(days == 0 ? 0 : 1), $"{days} days: one mail per step");
                if (days > 0)
                    await Mail.WaitForAsync(AdminEmail, $"Kit License Server: The server's license expires in {days} day{(days == 1 ? "" : "s")}");
            }
            Assert.That(mailedAgain, Is.Zero, "each step is mailed once");
            if (days > 0)
            {
                Assert.That(signIn.RedirectPath(), Is.EqualTo("/"), $"{days} days: the admin signs in as usual");
                await using var session = await runner.CheckoutAsync("KRE", "CI-01", "1", autoHeartbeat: false);
            }
            else
            {
                Assert.That(signIn.RedirectPath(), Is.EqualTo("/Activate"), "after expiry the admin lands on the license page");
                Assert.That(await TextAsync(admin, "/Activate"), Does.Contain("Upload the license file").And.Contain(banner!));
                var refused = Assert.ThrowsAsync<KitApiException>(() => runner.CheckoutAsync("KRE", "CI-01", "1", autoHeartbeat: false))!;
                Assert.That(refused.Code, Is.EqualTo("license_expired"));
                Assert.That(refused.Message, Does.Contain("An administrator must upload a renewed license"));
            }
        }
        Assert.That((await Mail.MailsToAsync(AdminEmail)).Count, Is.EqualTo(3), "30, 7 and 1 days: three mails in all");
    }
}
