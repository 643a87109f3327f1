using System.Net;
using Dapper;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// Per-user assignment with the churn limit: a per-user license taken back while its machines hold offline-valid leases keeps its
/// seat until they expire, and a grant racing a member's removal never leaves a license on a non-member.
/// </summary>
public class RecallTests : LicenseTest
{
    private Task<HttpResponseMessage> PostAsync(string handler, Dictionary<string, string> fields) =>
        Admin.PostFormAsync(Page() + "&handler=" + handler, fields, tokenPage: Page());

    [Test]
    public async Task A_recalled_license_holds_its_seat_until_its_machines_leases_expire()
    {
        await AllocateAsync(Org, "KSE", 2);
        var users = await MembersAsync(4);
        (await AssignAsync(Admin, users[0])).Dispose();
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await kit.LoginAsync(users[0], Password);
        var lease = await kit.ActivateAsync(Org, "KSE", "LAPTOP-0");

        using (var unassigned = await PostAsync("Unassign", new() { ["confirmed"] = "true", ["userId"] = (await UserIdAsync(users[0])).ToString() }))
        {
            Assert.That(unassigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
            Assert.That(await Admin.GetTextAsync(Page()), Does.Contain("Its seat is free at " + LicenseServer.Core.Activation.LicenseVerifier.Format(lease.ExpiresAt)));
        }
        (await AssignAsync(Admin, users[1])).Dispose();
        Assert.That(await AssignedAsync(), Is.EqualTo(1));
        using (var full = await AssignAsync(Admin, users[2]))
            Assert.That(await ConsoleClient.TextOf(full), Does.Contain("KSE has 0 of 2 seats left"), "the recalled lease still holds a seat");

        // users[1] activates too: moving their license now would need a second seat while their lease lives.
        using var second = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await second.LoginAsync(users[1], Password);
        await second.ActivateAsync(Org, "KSE", "LAPTOP-1");
        using (var transfer = await PostAsync("Transfer", new() { ["confirmed"] = "true", ["userId"] = (await UserIdAsync(users[1])).ToString(), ["toEmail"] = users[2] }))
            Assert.That(await ConsoleClient.TextOf(transfer), Does.Contain($"{users[1]}'s machines hold KSE leases valid offline until"));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT user_id FROM license_assignment WHERE organization_id = @Org", new { Org }), Is.EqualTo(await UserIdAsync(users[1])), "nothing moved");

        Clock.Offset = TimeSpan.FromDays(8); // past the 7-day leases (the console session too: sign in again)
        using (var granted = await AssignAsync(await SignedInAsync(AdminEmail), users[2]))
            Assert.That(granted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(granted));
    }

    [Test]
    public async Task Grants_racing_member_removals_never_leave_a_license_on_a_non_member()
    {
        var users = await MembersAsync(10);
        var ids = new List<long>();
        foreach (var user in users) ids.Add(await UserIdAsync(user));
        var work = users.Select(async (user, i) =>
        {
            var assign = AssignAsync(Admin, user);
            var remove = Admin.PostFormAsync($"/Organizations/{Org}/Users?handler=Remove", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = ids[i].ToString() },
                tokenPage: $"/Organizations/{Org}/Users");
            (await assign).Dispose();
            (await remove).Dispose();
        });
        await Task.WhenAll(work);
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM license_assignment a
            WHERE a.organization_id = @Org AND NOT EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = a.organization_id AND m.user_id = a.user_id)
            """, new { Org }), Is.Zero);
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @Org AND user_id = ANY(@ids)", new { Org, ids = ids.ToArray() }),
            Is.Zero, "every removal went through");
    }
}
