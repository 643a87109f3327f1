using Dapper;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Sessions;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Sessions;

/// <summary>Floating checkout at the seat ledger, the path the client API's checkout takes.</summary>
public class FloatingSeatTests : LicenseTest
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(5.5);

    [Test]
    public async Task Parallel_checkouts_never_exceed_the_quota()
    {
        var userId = await KreMemberAsync("runner@acme.test");
        var ledger = Server.Service<FloatingSessions>();
        var attempts = Enumerable.Range(0, 25).Select(i => Task.Run(async () =>
        {
            try
            {
                await ledger.CheckoutFloatingAsync(Org, "KRE", userId, $"CI-{i % 3}", $"{1000 + i}", null, Lease);
                return "ok";
            }
            catch (LicenseRuleException e)
            {
                return e.Code;
            }
        })).ToList();
        var results = await Task.WhenAll(attempts);
        Assert.That(results.Count(r => r == "ok"), Is.EqualTo(5));
        Assert.That(results.Where(r => r != "ok"), Has.All.AnyOf("quota_exceeded", "busy"));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > now()"), Is.EqualTo(5));
    }

    [Test]
    public async Task Registered_machines_never_exceed_the_quota_and_a_repeated_session_reuses_its_seat()
    {
        var userId = await KreMemberAsync("runner@acme.test");
        var ledger = Server.Service<FloatingSessions>();
        await AllocateAsync(Org, "KRE", 2);
        var (first, _) = await ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-1", "1", null, Lease);
        var (again, _) = await ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-1", "1", first, Lease);
        Assert.That(again, Is.EqualTo(first), "the same session keeps its seat");
        var (second, _) = await ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-2", "2", null, Lease);
        foreach (var session in new[] { first, second }) // both seats are free again; the machines stay registered
            Assert.That(await Server.Service<LicenseRepository>().EndSessionAsync(Org, "KRE", session, userId), Is.True);

        var refused = Assert.ThrowsAsync<LicenseRuleException>(() => ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-3", "3", null, Lease))!;
        Assert.That(refused.Code, Is.EqualTo("machine_limit"));
        Assert.That(refused.Message, Does.Contain("registered on 2 machines"));
        Assert.DoesNotThrowAsync(() => ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-1", "4", null, Lease), "a registered machine may check out again");
        await using var check = Db();
        Assert.That(await check.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_machine"), Is.EqualTo(2));

        var page = Page("KRE");
        using (var busy = await Admin.PostFormAsync(page + "&handler=RemoveMachine", new Dictionary<string, string> { ["confirmed"] = "true", ["machineId"] = "CI-1" }, tokenPage: page))
            Assert.That(await ConsoleClient.TextOf(busy), Does.Contain("CI-1 runs a live session"));
        using (var removed = await Admin.PostFormAsync(page + "&handler=RemoveMachine", new Dictionary<string, string> { ["confirmed"] = "true", ["machineId"] = "CI-2" }, tokenPage: page))
            Assert.That(removed.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Redirect));
        Assert.DoesNotThrowAsync(() => ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-3", "5", null, Lease), "the freed place takes a new machine");
    }

    [Test]
    public async Task A_per_user_product_cannot_be_checked_out_as_floating()
    {
        var userId = await KreMemberAsync("runner@acme.test");
        var refused = Assert.ThrowsAsync<LicenseRuleException>(() => Server.Service<FloatingSessions>().CheckoutFloatingAsync(Org, "KSE", userId, "CI-1", "1", null, Lease))!;
        Assert.That(refused.Code, Is.EqualTo("not_floating"));
    }

    [Test]
    public async Task Nothing_is_checked_out_once_the_servers_license_has_expired()
    {
        var userId = await KreMemberAsync("runner@acme.test");
        var ledger = Server.Service<FloatingSessions>();
        await ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-1", "1", null, Lease);
        await using (var db = Db()) await db.ExecuteAsync("UPDATE server_license SET valid_until = now() - interval '1 minute'");
        var refused = Assert.ThrowsAsync<LicenseRuleException>(() => ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-1", "2", null, Lease))!;
        Assert.That(refused.Code, Is.EqualTo("license_expired"));
    }

    [Test]
    public async Task A_license_with_fewer_seats_than_the_shares_blocks_new_grants_and_drops_nothing()
    {
        var users = await MembersAsync(4);
        using (await AssignAsync(Admin, string.Join(",", users.Take(3)))) { }
        await using (var db = Db()) await db.ExecuteAsync("UPDATE licensed_product SET quota = 5 WHERE code = 'KSE'");
        using (var blocked = await AssignAsync(Admin, users[3]))
            Assert.That(await ConsoleClient.TextOf(blocked), Does.Contain("holds 5 KSE seats, but 10 are shared among organizations"));
        Assert.That(await AssignedAsync(), Is.EqualTo(3), "nothing is dropped");
        await AllocateAsync(Org, "KSE", 5);
        using (var granted = await AssignAsync(Admin, users[3]))
            Assert.That(granted.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Redirect), "lowering the share resolves it");
    }

    [Test]
    public async Task Each_refused_checkout_says_why_and_stores_nothing()
    {
        var userId = await KreMemberAsync("runner@acme.test");
        var ledger = Server.Service<FloatingSessions>();
        async Task<LicenseRuleException> RefusedAsync(string product = "KRE")
        {
            var refused = Assert.ThrowsAsync<LicenseRuleException>(() => ledger.CheckoutFloatingAsync(Org, product, userId, "CI-1", "1", null, Lease))!;
            await using var db = Db();
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT (SELECT count(*) FROM floating_session) + (SELECT count(*) FROM floating_machine)"), Is.Zero,
                $"{refused.Code} stored nothing");
            return refused;
        }

        var unknown = await RefusedAsync("NOPE");
        Assert.That((unknown.Code, unknown.Message), Is.EqualTo(("unknown_product", "The server's license has no product NOPE.")));

        await using (var db = Db()) await db.ExecuteAsync("UPDATE licensed_product SET quota = 3 WHERE code = 'KRE'");
        var over = await RefusedAsync();
        Assert.That(over.Code, Is.EqualTo("over_allocated"));
        Assert.That(over.Message, Does.StartWith("The server's license holds 3 KRE seats, but 5 are shared among organizations."));

        await using (var db = Db()) await db.ExecuteAsync("UPDATE licensed_product SET quota = 10 WHERE code = 'KRE'");
        await AllocateAsync(Org, "KRE", 0);
        var none = await RefusedAsync();
        Assert.That((none.Code, none.Message), Is.EqualTo(("quota_exceeded",
            "No KRE seats are allocated to this organization. The server admin allocates them under All licenses.")), "no seats at all is not a machine limit");

        await AllocateAsync(Org, "KRE", 5);
        await using (var db = Db()) await db.ExecuteAsync("UPDATE server_license SET issued_at = now() + interval '1 day'");
        Assert.That((await RefusedAsync()).Code, Is.EqualTo("clock_tampering"));
        await using (var db = Db()) await db.ExecuteAsync("UPDATE server_license SET issued_at = now() - interval '1 day'");
        Assert.DoesNotThrowAsync(() => ledger.CheckoutFloatingAsync(Org, "KRE", userId, "CI-1", "1", null, Lease), "granted once nothing refuses it");
    }
}
