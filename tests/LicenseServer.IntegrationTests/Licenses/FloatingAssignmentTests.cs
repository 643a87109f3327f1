using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// Floating licenses as the seed assigns them: an admin assigns KRE to members (no cap on how many), only assigned
/// members and their API keys check out (unless the organization lets every member), and the sessions in parallel
/// stay within the quota.
/// </summary>
public sealed class FloatingAssignmentTests : SeatRuleTest
{
    [Test]
    public async Task A_member_without_the_floating_license_is_refused_not_assigned_and_checks_out_once_assigned()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var engine = await ApiKeyClientAsync("runner@acme.test", assignKre: false);
        var refused = Refused(() => engine.CheckoutAsync("KRE", "CI-1", "1", autoHeartbeat: false));
        Assert.That(refused.Code, Is.EqualTo("not_assigned"));
        Assert.That(refused.Message, Does.Contain("KRE is not assigned to you").And.Contain("License Management"));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session"), Is.Zero, "a refusal takes no seat");

        using (var assigned = await AssignAsync(Admin, "runner@acme.test", "KRE"))
            Redirected(assigned, await ConsoleClient.TextOf(assigned));
        var page = await Admin.GetTextAsync(Page("KRE"));
        Assert.That(page, Does.Contain("Licensed Users").And.Contain("data-email=\"runner@acme.test\""));
        Assert.That(page, Does.Contain("<td data-testid=\"in-use\">0</td>"), "an assignment of a floating license takes no seat");

        await engine.CheckoutAsync("KRE", "CI-1", "1", autoHeartbeat: false);
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session WHERE ended_at IS NULL"), Is.EqualTo(1));
        Assert.That(await AuditAsync("license.assigned"), Has.Some.StartsWith("license.assigned runner@acme.test KRE"));
    }

    [Test]
    public async Task Any_number_of_members_hold_the_floating_license_while_sessions_stay_within_the_quota()
    {
        var people = await MembersAsync(8, "engine");
        using (var assigned = await AssignAsync(Admin, string.Join("\n", people), "KRE"))
            Redirected(assigned, await ConsoleClient.TextOf(assigned));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_assignment WHERE organization_id = @Org AND product_code = 'KRE'", new { Org }), Is.EqualTo(8),
            "8 assigned with a quota of 5: assignments have no cap");

        for (var i = 0; i < 5; i++) await (await ApiKeyClientAsync(people[i], assignKre: false)).CheckoutAsync("KRE", $"CI-{i}", "1", autoHeartbeat: false);
        var sixth = await ApiKeyClientAsync(people[5], assignKre: false);
        Assert.That(Refused(() => sixth.CheckoutAsync("KRE", "CI-0", "2", autoHeartbeat: false)).Code, Is.EqualTo("quota_exceeded"));

        using var again = await AssignAsync(Admin, people[0], "KRE");
        Assert.That(await ConsoleClient.TextOf(again), Does.Contain("engine0@acme.test already has a KRE license"));
    }

    [Test]
    public async Task Unassigning_asks_first_then_ends_the_members_sessions_and_refuses_their_next_checkout()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        using (var assigned = await AssignAsync(Admin, "runner@acme.test", "KRE")) Redirected(assigned);
        var engine = await ApiKeyClientAsync("runner@acme.test", assignKre: false);
        var session = await engine.CheckoutAsync("KRE", "CI-1", "1", autoHeartbeat: false);
        var userId = await UserIdAsync("runner@acme.test");

        using (var asked = await LicensesFormAsync("KRE", "Unassign", new() { ["userId"] = $"{userId}" }))
        {
            var text = await ConsoleClient.TextOf(asked);
            Assert.That(text, Does.Contain("Unassign KRE from runner@acme.test?").And.Contain("Ends 1 live session"));
        }
        Assert.That(await CountAsync("SELECT count(*) FROM floating_assignment"), Is.EqualTo(1), "nothing changes before the confirmation");

        using (var done = await LicensesFormAsync("KRE", "Unassign", new() { ["userId"] = $"{userId}", ["confirmed"] = "true" })) Redirected(done);
        Assert.That(await CountAsync("SELECT count(*) FROM floating_assignment"), Is.Zero);
        Assert.That(Refused(() => session.HeartbeatAsync()).Code, Is.EqualTo("session_expired"), "its session ended with the license");
        Assert.That(Refused(() => engine.CheckoutAsync("KRE", "CI-1", "2", autoHeartbeat: false)).Code, Is.EqualTo("not_assigned"));
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("<td data-testid=\"in-use\">0</td>"));
    }

    [Test]
    public async Task An_organization_may_let_every_member_check_out_and_switch_back()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var engine = await ApiKeyClientAsync("runner@acme.test", assignKre: false);
        var settings = $"/Organizations/{Org}/Settings";
        Assert.That(await Admin.GetTextAsync(settings), Does.Contain("Assigned members only").And.Contain("Every member"));

        using (var everyone = await Admin.PostFormAsync(settings + "?handler=FloatingAccess", new Dictionary<string, string> { ["access"] = "everyone" }, tokenPage: settings))
            Redirected(everyone, await ConsoleClient.TextOf(everyone));
        await engine.CheckoutAsync("KRE", "CI-1", "1", autoHeartbeat: false);
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("Every member of this organization may check out KRE"));

        using (var assigned = await Admin.PostFormAsync(settings + "?handler=FloatingAccess", new Dictionary<string, string> { ["access"] = "assigned" }, tokenPage: settings))
            Redirected(assigned);
        Assert.That(Refused(() => engine.CheckoutAsync("KRE", "CI-2", "2", autoHeartbeat: false)).Code, Is.EqualTo("not_assigned"));
        using (var bad = await Admin.PostFormAsync(settings + "?handler=FloatingAccess", new Dictionary<string, string> { ["access"] = "anyone-at-all" }, tokenPage: settings))
        {
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(bad), Does.Contain("Choose who may check out floating licenses"));
        }
        Assert.That(await AuditAsync("organization.floating_access"), Is.EqualTo(new[]
        {
            "organization.floating_access_changed  every member by admin@acme.test",
            "organization.floating_access_changed  assigned members only by admin@acme.test",
        }));
    }

    [Test]
    public async Task An_assignment_in_one_organization_lets_no_key_of_another_check_out()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        using (var assigned = await AssignAsync(Admin, "runner@acme.test", "KRE")) Redirected(assigned);
        var other = await CreateOrganizationAsync(Admin, "Globex");
        await AllocateAsync(Org, "KRE", 2);
        await AllocateAsync(other, "KRE", 2);
        await AddMemberAsync(other, "runner@acme.test");
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(other, await UserIdAsync("runner@acme.test"));
        var engine = NewKitClient();
        engine.ApiKey = await Server.Service<LicenseServer.Web.Licenses.LicenseService>().CreateApiKeyAsync(membership!, "globex key");
        Assert.That(Refused(() => engine.CheckoutAsync("KRE", "CI-1", "1", autoHeartbeat: false)).Code, Is.EqualTo("not_assigned"));
    }

    [Test]
    public async Task A_removed_member_loses_the_floating_license_and_returns_without_it()
    {
        var userId = await AddMemberAsync(Org, "runner@acme.test");
        using (var assigned = await AssignAsync(Admin, "runner@acme.test", "KRE")) Redirected(assigned);
        var users = $"/Organizations/{Org}/Users";
        using (var asked = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["userId"] = $"{userId}" }, tokenPage: users))
            Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Recalls 1 license"));
        using (var removed = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["userId"] = $"{userId}", ["confirmed"] = "true" }, tokenPage: users))
            Redirected(removed);
        Assert.That(await CountAsync("SELECT count(*) FROM floating_assignment"), Is.Zero);
        Assert.That(await AuditAsync("license.unassigned"), Has.Some.StartsWith("license.unassigned runner@acme.test KRE (member removed)"));
    }

    [Test]
    public async Task A_members_page_lists_their_licenses_and_grants_and_recalls_them()
    {
        var userId = await AddMemberAsync(Org, "runner@acme.test");
        var member = $"/Organizations/{Org}/Users/{userId}";
        Assert.That(await Admin.GetTextAsync($"/Organizations/{Org}/Users"), Does.Contain($"href=\"{member}\""), "Users links each member to their page");
        var page = await Admin.GetTextAsync(member);
        Assert.That(page, Does.Contain("runner@acme.test").And.Contain("data-product=\"KSE\"").And.Contain("data-product=\"KRE\""));

        foreach (var product in new[] { "KSE", "KRE" })
            using (var granted = await Admin.PostFormAsync($"{member}?handler=Grant", new Dictionary<string, string> { ["product"] = product }, tokenPage: member))
                Redirected(granted, await ConsoleClient.TextOf(granted));
        Assert.That(await AssignedAsync("KSE"), Is.EqualTo(1));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_assignment"), Is.EqualTo(1));
        Assert.That(await Admin.GetTextAsync(member), Does.Contain("Assigned").And.Contain("Recall"));

        using (var asked = await Admin.PostFormAsync($"{member}?handler=Recall", new Dictionary<string, string> { ["product"] = "KSE" }, tokenPage: member))
            Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Unassign KSE from runner@acme.test?"));
        Assert.That(await AssignedAsync("KSE"), Is.EqualTo(1));
        using (var recalled = await Admin.PostFormAsync($"{member}?handler=Recall", new Dictionary<string, string> { ["product"] = "KSE", ["confirmed"] = "true" }, tokenPage: member))
            Redirected(recalled);
        Assert.That(await AssignedAsync("KSE"), Is.Zero);

        var outsider = await CreateUserAsync("stranger@acme.test");
        using var notHere = await Admin.GetAsync($"/Organizations/{Org}/Users/{outsider}");
        Assert.That(notHere.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "a person outside the organization has no page in it");
    }
}
