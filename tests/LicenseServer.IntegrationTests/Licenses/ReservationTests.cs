using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>Seats of a product reserved for a team are not granted to others.</summary>
public class ReservationTests : SeatRuleTest
{
    [Test]
    public async Task Reserved_seats_hold_under_concurrent_grants_to_non_members_and_then_go_to_the_team()
    {
        var team = await MembersAsync(3, "build");
        var outsiders = await MembersAsync(20, "other");
        var build = await TeamAsync("Build", team);
        using (var reserved = await ReserveAsync(build, "KSE", 3)) Redirected(reserved, await ConsoleClient.TextOf(reserved));

        var token = await Admin.TokenAsync(Page());
        var responses = await Task.WhenAll(outsiders.Select(email => Admin.PostFormAsync($"/Organizations/{Org}/Licenses?product=KSE&handler=Assign",
            new Dictionary<string, string> { ["emails"] = email, ["__RequestVerificationToken"] = token }, withToken: false)));
        var granted = responses.Count(r => r.StatusCode == HttpStatusCode.Redirect);
        var refusals = responses.Where(r => r.StatusCode != HttpStatusCode.Redirect).Select(r => (int)r.StatusCode).Distinct().ToList();
        foreach (var r in responses) r.Dispose();
        Assert.That(granted, Is.EqualTo(7), "10 seats, 3 reserved for Build");
        Assert.That(refusals, Is.SubsetOf(new[] { 400, 409 }), "refusals are 400 (reserved) or 409 (busy), never 500");
        Assert.That(await AssignedAsync(), Is.EqualTo(7));

        string late;
        await using (var db = Db())
            late = await db.ExecuteScalarAsync<string>(
                "SELECT email FROM user_account u WHERE email LIKE 'other%' AND NOT EXISTS (SELECT 1 FROM license_assignment a WHERE a.user_id = u.id) LIMIT 1") ?? "";
        using (var refused = await AssignAsync(Admin, late))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(refused), Does.Contain(
                "KSE has 3 seats left, and 3 seats are reserved for members of that team only (3 for team Build). Nothing was granted."));
        }
        Assert.That(await AssignedAsync(), Is.EqualTo(7), "nothing was stored");

        using (var members = await AssignAsync(Admin, string.Join(", ", team))) Redirected(members, await ConsoleClient.TextOf(members));
        Assert.That(await AssignedAsync(), Is.EqualTo(10));
        var page = await Admin.GetTextAsync(Page());
        Assert.That(page, Does.Contain("<tr data-team=\"Build\">").And.Contain("<td>3</td><td>3</td>"), "License Management shows the reservation, filled");
        Assert.That(await AuditAsync("team.reservation_set"), Is.EqualTo(new[] { $"team.reservation_set Build KSE 3 seats by {AdminEmail}" }));
    }

    [Test]
    public async Task A_bulk_grant_applies_the_reservation_seat_by_seat_all_or_nothing()
    {
        var team = await MembersAsync(2, "build");
        var outsiders = await MembersAsync(9, "other");
        await AllocateAsync(Org, "KSE", 10);
        var build = await TeamAsync("Build", team);
        using (await ReserveAsync(build, "KSE", 2)) { }

        // 8 unreserved seats for 9 outsiders: none is granted, though 10 seats are free.
        using (var refused = await AssignAsync(Admin, string.Join(",", outsiders)))
            Assert.That(await ConsoleClient.TextOf(refused), Does.Contain("2 seats are reserved for members of that team only (2 for team Build)"));
        Assert.That(await AssignedAsync(), Is.Zero);
        // 8 outsiders and both members fit exactly, in any order.
        using (var granted = await AssignAsync(Admin, string.Join(",", outsiders.Take(4).Concat(team).Concat(outsiders.Skip(4).Take(4)))))
            Redirected(granted, await ConsoleClient.TextOf(granted));
        Assert.That(await AssignedAsync(), Is.EqualTo(10));
    }

    [Test]
    public async Task The_reservations_of_an_organization_never_add_up_to_more_than_its_share()
    {
        var a = await TeamAsync("Alpha", []);
        var b = await TeamAsync("Beta", []);
        using (var ok = await ReserveAsync(a, "KSE", 6)) Redirected(ok);
        using (var tooMany = await ReserveAsync(b, "KSE", 5))
        {
            Assert.That(tooMany.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(tooMany), Does.Contain(
                "This organization's share of KSE is 10 seats and other teams reserve 6: at most 4 can be reserved for Beta."));
        }
        using (var ok = await ReserveAsync(b, "KSE", 4)) Redirected(ok);
        using (var removed = await ReserveAsync(a, "KSE", 0)) Redirected(removed);
        using (var ok = await ReserveAsync(b, "KSE", 10)) Redirected(ok, "Alpha's reservation is gone");
        using (var none = await ReserveAsync(a, "KTO", 1))
            Assert.That(await ConsoleClient.TextOf(none), Does.Contain("The server's license has no product KTO."));

        Assert.That(await CountAsync("SELECT count(*) FROM team_reservation"), Is.EqualTo(1));
        Assert.That(await Admin.GetTextAsync($"{TeamsPage}/{b}"), Does.Contain("value=\"10\" inputmode=\"numeric\""));
        Assert.That(await AuditAsync("team.reservation_set"), Is.EqualTo(new[]
        {
            $"team.reservation_set Alpha KSE 6 seats by {AdminEmail}", $"team.reservation_set Beta KSE 4 seats by {AdminEmail}",
            $"team.reservation_set Alpha KSE 0 seats by {AdminEmail}", $"team.reservation_set Beta KSE 10 seats by {AdminEmail}",
        }));
    }

    [Test]
    public async Task Floating_seats_reserved_for_a_team_are_not_checked_out_by_others()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        await AddMemberAsync(Org, "qa@acme.test");
        var qa = await TeamAsync("QA", ["qa@acme.test"]);
        using (await ReserveAsync(qa, "KRE", 2)) { }
        using var runner = await ApiKeyClientAsync("runner@acme.test");
        using var tester = await ApiKeyClientAsync("qa@acme.test");

        for (var i = 0; i < 3; i++) await runner.CheckoutAsync("KRE", "CI-1", $"{i}", autoHeartbeat: false);
        var refused = Refused(() => runner.CheckoutAsync("KRE", "CI-1", "3", autoHeartbeat: false));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((409, "reserved")));
        Assert.That(refused.Message, Is.EqualTo("KRE has 2 seats left, and 2 seats are reserved for members of that team only (2 for team QA). Nothing was granted."));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session"), Is.EqualTo(3), "nothing was stored");

        await tester.CheckoutAsync("KRE", "QA-1", "1", autoHeartbeat: false);
        await tester.CheckoutAsync("KRE", "QA-1", "2", autoHeartbeat: false);
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session WHERE ended_at IS NULL"), Is.EqualTo(5));
    }

    [Test]
    public async Task An_offline_license_takes_only_unreserved_seats()
    {
        var outsiders = await MembersAsync(7, "other");
        var build = await TeamAsync("Build", []);
        using (await ReserveAsync(build, "KSE", 3)) { }
        using (var granted = await AssignAsync(Admin, string.Join(",", outsiders))) Redirected(granted);
        using var refused = await LicensesFormAsync("KSE", "CreateOffline", new() { ["machineId"] = "OFFLINE-1" });
        Assert.That(await ConsoleClient.TextOf(refused), Does.Contain("3 seats are reserved for members of that team only (3 for team Build)"));
        Assert.That(await CountAsync("SELECT count(*) FROM offline_license"), Is.Zero);
    }
}
