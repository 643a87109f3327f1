using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>An allow-list of machines for floating seats, and disabling a machine without deleting its history.</summary>
public class MachineRuleTests : SeatRuleTest
{
    [Test]
    public async Task A_disabled_machine_is_refused_its_session_ends_its_history_stays_and_enabling_restores_it()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        await AddMemberAsync(Org, "runner@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }
        using var dev = await SignedInKitClientAsync("dev@acme.test");
        using var runner = await ApiKeyClientAsync("runner@acme.test");
        await dev.ActivateAsync(Org, "KSE", "LAPTOP-1");
        var session = await runner.CheckoutAsync("KRE", "LAPTOP-1", "42", autoHeartbeat: false);

        using (var disabled = await LicensesFormAsync("KRE", "DisableMachine", new() { ["confirmed"] = "true", ["machineId"] = "LAPTOP-1", ["reason"] = "Reported stolen" }))
            Redirected(disabled, await ConsoleClient.TextOf(disabled));
        await using (var db = Db())
        {
            var ended = await db.QuerySingleAsync<DateTime?>("SELECT ended_at FROM floating_session WHERE id = @Id", new { session.Id });
            Assert.That(ended, Is.Not.Null, "the live session ended at once, and its row is kept");
        }
        Assert.That(Refused(() => session.HeartbeatAsync()).Code, Is.EqualTo("session_expired"));

        var checkout = Refused(() => runner.CheckoutAsync("KRE", "LAPTOP-1", "43", autoHeartbeat: false));
        Assert.That((checkout.Status, checkout.Code), Is.EqualTo((403, "machine_disabled")));
        Assert.That(checkout.Message, Is.EqualTo("Machine LAPTOP-1 is disabled in this organization: Reported stolen. Ask an Owner or Admin to enable it under License Management."));
        var leaseBefore = await LeaseExpiryAsync("LAPTOP-1");
        var renewal = Refused(() => dev.ActivateAsync(Org, "KSE", "LAPTOP-1"));
        Assert.That((renewal.Status, renewal.Code), Is.EqualTo((403, "machine_disabled")));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session"), Is.EqualTo(1), "no session was stored");
        Assert.That(await LeaseExpiryAsync("LAPTOP-1"), Is.EqualTo(leaseBefore), "the refused renewal stored nothing");

        var kse = await Admin.GetTextAsync(Page());
        Assert.That(kse, Does.Contain("<code>LAPTOP-1</code>").And.Contain("data-testid=\"disabled-mark\""), "its activation is still listed, marked disabled");
        Assert.That(kse, Does.Contain("Reported stolen"), "the disabled machines list");
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("<code>LAPTOP-1</code>"), "still a registered machine");
        using (var twice = await LicensesFormAsync("KSE", "DisableMachine", new() { ["confirmed"] = "true", ["machineId"] = "LAPTOP-1" }))
            Assert.That(await ConsoleClient.TextOf(twice), Does.Contain("LAPTOP-1 is disabled already."));

        using (var enabled = await LicensesFormAsync("KSE", "EnableMachine", new() { ["machineId"] = "LAPTOP-1" })) Redirected(enabled);
        await dev.ActivateAsync(Org, "KSE", "LAPTOP-1");
        await runner.CheckoutAsync("KRE", "LAPTOP-1", "44", autoHeartbeat: false);
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session"), Is.EqualTo(2), "history kept, one new session");
        Assert.That(await AuditAsync("machine."), Is.EqualTo(new[]
        {
            $"machine.disabled LAPTOP-1 Reported stolen; 1 live session ended by {AdminEmail}", $"machine.enabled LAPTOP-1  by {AdminEmail}",
        }));
    }

    [Test]
    public async Task Disable_and_enable_buttons_post_the_machine_of_the_row_and_bad_ids_are_refused()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        using var runner = await ApiKeyClientAsync("runner@acme.test");
        await runner.CheckoutAsync("KRE", "CI-7", "1", autoHeartbeat: false);
        var page = await Admin.GetTextAsync(Page("KRE"));
        Assert.That(page, Does.Contain("?product=KRE&amp;handler=DisableMachine").And.Contain("name=\"machineId\" value=\"CI-7\""));
        using (var bad = await LicensesFormAsync("KRE", "DisableMachine", new() { ["confirmed"] = "true", ["machineId"] = "CI 7;DROP" }))
        {
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(bad), Does.Contain("A machine ID has only letters, digits"));
        }
        using (var notDisabled = await LicensesFormAsync("KRE", "EnableMachine", new() { ["machineId"] = "CI-7" }))
            Assert.That(await ConsoleClient.TextOf(notDisabled), Does.Contain("CI-7 is not disabled."));
        Assert.That(await CountAsync("SELECT count(*) FROM disabled_machine"), Is.Zero);
    }

    [Test]
    public async Task An_allow_list_admits_listed_machines_only_and_an_empty_one_admits_all()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        using var runner = await ApiKeyClientAsync("runner@acme.test");
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("Any machine may check out KRE."));
        using (var allowed = await LicensesFormAsync("KRE", "AllowMachine", new() { ["machineId"] = "CI-ALLOWED" }))
            Redirected(allowed, await ConsoleClient.TextOf(allowed));
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("Only the 1 machine(s) listed here may check out KRE.").And.Contain("<code>CI-ALLOWED</code>"));

        var refused = Refused(() => runner.CheckoutAsync("KRE", "CI-OTHER", "1", autoHeartbeat: false));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((403, "machine_not_allowed")));
        Assert.That(refused.Message, Is.EqualTo("KRE may be used only on the machines of its allow-list, and CI-OTHER is not on it. Ask an Owner or Admin to add it under License Management."));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session") + await CountAsync("SELECT count(*) FROM floating_machine"), Is.Zero, "nothing was stored");
        await runner.CheckoutAsync("KRE", "CI-ALLOWED", "2", autoHeartbeat: false);

        using (var perUser = await LicensesFormAsync("KSE", "AllowMachine", new() { ["machineId"] = "CI-1" }))
            Assert.That(await ConsoleClient.TextOf(perUser), Does.Contain("only floating products have an allow-list"));
        using (var removed = await LicensesFormAsync("KRE", "DisallowMachine", new() { ["machineId"] = "CI-ALLOWED" })) Redirected(removed);
        await runner.CheckoutAsync("KRE", "CI-OTHER", "3", autoHeartbeat: false);
        Assert.That(await AuditAsync("machine."), Is.EqualTo(new[]
        {
            $"machine.allowed CI-ALLOWED KRE by {AdminEmail}", $"machine.disallowed CI-ALLOWED KRE by {AdminEmail}",
        }));
    }

    [Test]
    public async Task A_member_without_the_license_permission_cannot_disable_a_machine()
    {
        await AddMemberAsync(Org, "member@acme.test");
        var member = await SignedInAsync("member@acme.test");
        using var response = await member.PostFormAsync(Page("KRE") + "&handler=DisableMachine",
            new Dictionary<string, string> { ["confirmed"] = "true", ["machineId"] = "CI-1" }, tokenPage: $"/Organizations/{Org}/ApiKeys");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await CountAsync("SELECT count(*) FROM disabled_machine"), Is.Zero);
    }

    private async Task<DateTime> LeaseExpiryAsync(string machineId)
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<DateTime>("SELECT lease_expires_at FROM machine_activation WHERE machine_id = @machineId", new { machineId });
    }
}
