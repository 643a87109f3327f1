using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

public class PerUserLicenseTests : LicenseTest
{
    [Test]
    public async Task The_page_shows_quota_assigned_and_available()
    {
        var users = await MembersAsync(3);
        using (var assigned = await AssignAsync(Admin, string.Join(", ", users)))
            Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(assigned));
        var page = await Admin.GetTextAsync(Page());
        Assert.That(page, Does.Contain("<td data-testid=\"quota\">10</td><td data-testid=\"in-use\">3</td><td data-testid=\"available\">7</td>"));
        foreach (var user in users) Assert.That(page, Does.Contain($"<tr data-email=\"{user}\">"));
    }

    [Test]
    public async Task A_grant_for_5_users_with_3_seats_left_grants_none_and_says_so()
    {
        await AllocateAsync(Org, "KSE", 3);
        var users = await MembersAsync(5);
        using var response = await AssignAsync(Admin, string.Join("\n", users));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain("KSE has 3 of 3 seats left, not enough for 5. Nothing was granted."));
        Assert.That(await AssignedAsync(), Is.Zero);
    }

    [Test]
    public async Task Fifty_concurrent_grants_racing_for_ten_seats_grant_exactly_ten()
    {
        var users = await MembersAsync(50);
        var token = await Admin.TokenAsync(Page());
        var requests = users.Select(email => Admin.PostFormAsync($"/Organizations/{Org}/Licenses?product=KSE&handler=Assign",
            new Dictionary<string, string> { ["emails"] = email, ["__RequestVerificationToken"] = token }, withToken: false)).ToList();
        var responses = await Task.WhenAll(requests);
        var granted = responses.Count(r => r.StatusCode == HttpStatusCode.Redirect);
        var refused = responses.Where(r => r.StatusCode != HttpStatusCode.Redirect).Select(r => (int)r.StatusCode).Distinct().ToList();
        foreach (var r in responses) r.Dispose();

        Assert.That(granted, Is.EqualTo(10));
        Assert.That(refused, Is.SubsetOf(new[] { 400, 409 }), "refusals are 400 (quota) or 409 (busy), never 500");
        Assert.That(await AssignedAsync(), Is.EqualTo(10));
    }

    [Test]
    public async Task Unknown_emails_non_members_and_holders_are_refused_and_nothing_changes()
    {
        var users = await MembersAsync(2);
        await CreateUserAsync("outsider@acme.test");
        using (await AssignAsync(Admin, users[0])) { }
        foreach (var (emails, message) in new[]
        {
            ($"{users[1]}, ghost@acme.test", "There is no account with ghost@acme.test"),
            ($"{users[1]}, outsider@acme.test", "outsider@acme.test is not a member of this organization"),
            ($"{users[1]}, {users[0]}", $"{users[0]} already has a KSE license"),
            ($"{users[1]}, not-an-email", "is not a valid email address"),
        })
        {
            using var response = await AssignAsync(Admin, emails);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), emails);
            Assert.That(await ConsoleClient.TextOf(response), Does.Contain(message), emails);
        }
        Assert.That(await AssignedAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Unassign_frees_the_seat_and_transfer_moves_it_in_one_step()
    {
        var users = await MembersAsync(3);
        using (await AssignAsync(Admin, $"{users[0]}, {users[1]}")) { }
        var first = await UserIdAsync(users[0]);
        var second = await UserIdAsync(users[1]);
        await using (var db = Db())
            await db.ExecuteAsync("INSERT INTO machine_activation (organization_id, product_code, user_id, machine_id, lease_expires_at) VALUES (@Org, 'KSE', @first, 'M-1', now() + interval '1 day')", new { Org, first });

        using (var transfer = await Admin.PostFormAsync(Page() + "&handler=Transfer", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = first.ToString(), ["toEmail"] = users[2] }, tokenPage: Page()))
            Assert.That(transfer.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(transfer));
        using (var toHolder = await Admin.PostFormAsync(Page() + "&handler=Transfer", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = second.ToString(), ["toEmail"] = users[2] }, tokenPage: Page()))
            Assert.That(await ConsoleClient.TextOf(toHolder), Does.Contain($"{users[2]} already has a KSE license"));
        await using (var db = Db())
        {
            Assert.That(await db.QueryAsync<string>("SELECT u.email FROM license_assignment a JOIN user_account u ON u.id = a.user_id WHERE a.organization_id = @Org ORDER BY 1", new { Org }),
                Is.EqualTo(new[] { users[1], users[2] }));
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM machine_activation WHERE deactivated_at IS NULL"), Is.Zero, "the old holder's machines are deactivated");
        }

        using (var unassign = await Admin.PostFormAsync(Page() + "&handler=Unassign", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = second.ToString() }, tokenPage: Page()))
            Assert.That(unassign.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await AssignedAsync(), Is.EqualTo(1));
        Assert.That(await Admin.GetTextAsync(Page()), Does.Contain("<td data-testid=\"available\">8</td>"),
            "one seat is free again; the first holder's machine keeps another until its lease expires tomorrow");
    }

    [Test]
    public async Task The_Online_Licenses_list_shows_machines_and_one_can_be_deactivated()
    {
        var users = await MembersAsync(1);
        using (await AssignAsync(Admin, users[0])) { }
        var userId = await UserIdAsync(users[0]);
        long activation;
        await using (var db = Db())
            activation = await db.ExecuteScalarAsync<long>("INSERT INTO machine_activation (organization_id, product_code, user_id, machine_id, lease_expires_at) VALUES (@Org, 'KSE', @userId, 'MACHINE-42', now() + interval '1 day') RETURNING id", new { Org, userId });
        Assert.That(await Admin.GetTextAsync(Page()), Does.Contain("<code>MACHINE-42</code>"));
        using (var deactivate = await Admin.PostFormAsync(Page() + "&handler=Deactivate", new Dictionary<string, string> { ["confirmed"] = "true", ["activationId"] = activation.ToString() }, tokenPage: Page()))
            Assert.That(deactivate.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await Admin.GetTextAsync(Page()), Does.Not.Contain("MACHINE-42"));
        Assert.That(await AssignedAsync(), Is.EqualTo(1), "the user keeps the license");
    }

    [Test]
    public async Task Bulk_grant_is_all_or_nothing_and_recall_takes_back()
    {
        await AddMemberAsync(Org, "a@acme.test");
        await AddMemberAsync(Org, "b@acme.test");
        await AddMemberAsync(Org, "c@acme.test");
        var ids = new[] { await UserIdAsync("a@acme.test"), await UserIdAsync("b@acme.test"), await UserIdAsync("c@acme.test") };
        var now = DateTimeOffset.UtcNow;
        await Server.Service<LicenseServer.Web.Activation.ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [.. o.Products, LicenseServer.Core.Activation.LicenseIssuer.ParseProduct("KTO:per-user:2:annual:TestOps", now.AddDays(365))],
        }, issuedAt: now));
        await AllocateAsync(Org, "KTO", 2);
        var bulk = $"/Organizations/{Org}/Licenses/Bulk";
        async Task<HttpResponseMessage> Post(string handler) =>
            await Admin.PostFormAsync(bulk + "?handler=" + handler, [
                new("products", "KSE"), new("products", "KTO"),
                new("userIds", ids[0].ToString()), new("userIds", ids[1].ToString()), new("userIds", ids[2].ToString()), new("confirmed", "true")], tokenPage: bulk);

        using (var tooMany = await Post("Grant"))
        {
            Assert.That(tooMany.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(tooMany), Does.Contain("KTO has 2 of 2 seats left, not enough for 3"));
        }
        Assert.That((await AssignedAsync("KSE"), await AssignedAsync("KTO")), Is.EqualTo((0L, 0L)), "KSE was not granted either");

        await AllocateAsync(Org, "KTO", 0);
        await Server.Service<LicenseServer.Web.Activation.ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [.. o.Products, LicenseServer.Core.Activation.LicenseIssuer.ParseProduct("KTO:per-user:3:annual:TestOps", now.AddDays(365))],
        }, issuedAt: now.AddSeconds(1)));
        await AllocateAsync(Org, "KTO", 3);
        using (var granted = await Post("Grant"))
            Assert.That(granted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(granted));
        Assert.That((await AssignedAsync("KSE"), await AssignedAsync("KTO")), Is.EqualTo((3L, 3L)));

        using (var recalled = await Post("Recall"))
            Assert.That(recalled.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That((await AssignedAsync("KSE"), await AssignedAsync("KTO")), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task Removing_a_member_recalls_their_licenses()
    {
        var users = await MembersAsync(1);
        using (await AssignAsync(Admin, users[0])) { }
        var userId = await UserIdAsync(users[0]);
        var usersPage = $"/Organizations/{Org}/Users";
        using (await Admin.PostFormAsync(usersPage + "?handler=Remove", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = userId.ToString() }, tokenPage: usersPage)) { }
        Assert.That(await AssignedAsync(), Is.Zero);
    }

    [Test]
    public async Task Shares_never_exceed_the_license_nor_drop_below_seats_in_use()
    {
        await LetAnyoneCreateOrganizationsAsync();
        await CreateUserAsync("other@acme.test");
        var other = await CreateOrganizationAsync(await SignedInAsync("other@acme.test"), "Other");
        using (var tooMuch = await AllocateAsync(other, "KSE", 1, expectOk: false))
        {
            Assert.That(tooMuch.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(tooMuch), Does.Contain("The license holds 10 KSE seats and other organizations have 10: at most 0 are left for Other."));
        }
        var users = await MembersAsync(4);
        using (await AssignAsync(Admin, string.Join(",", users))) { }
        using (var below = await AllocateAsync(Org, "KSE", 3, expectOk: false))
            Assert.That(await ConsoleClient.TextOf(below), Does.Contain("ACME QA uses 4 KSE seats"));
        await AllocateAsync(Org, "KSE", 4);
        await AllocateAsync(other, "KSE", 6);
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT sum(quota) FROM product_allocation WHERE product_code = 'KSE'"), Is.EqualTo(10));
    }

    [Test]
    public async Task A_Member_without_the_permission_gets_403_and_one_with_it_assigns_but_cannot_make_offline_licenses()
    {
        var users = await MembersAsync(1);
        await AddMemberAsync(Org, "plain@acme.test");
        await AddMemberAsync(Org, "licenser@acme.test", canManageLicenses: true);
        var plain = await SignedInAsync("plain@acme.test");
        using (var view = await plain.GetAsync(Page()))
            Assert.That(view.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        using (var assign = await plain.PostFormAsync(Page() + "&handler=Assign", new Dictionary<string, string> { ["emails"] = users[0] }, tokenPage: $"/Organizations/{Org}"))
            Assert.That(assign.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await AssignedAsync(), Is.Zero);

        var licenser = await SignedInAsync("licenser@acme.test");
        using (var assign = await AssignAsync(licenser, users[0]))
            Assert.That(assign.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var offline = await licenser.PostFormAsync(Page() + "&handler=CreateOffline", new Dictionary<string, string> { ["machineId"] = "M-1", ["expiry"] = "" }, tokenPage: Page()))
            Assert.That(offline.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "offline licenses are for Owners and Admins");
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM offline_license"), Is.Zero);
    }
}
