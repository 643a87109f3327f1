using Dapper;
using Npgsql;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// The sessions that left a pool (released, ended, expired) come off its count at most every 200 ms, and
/// always before the count refuses a seat. Each checkout here is a transaction of its own, at
/// a time given, as a lone checkout runs it.
/// </summary>
public class PoolSweepTests : SeatRuleTest
{
    private static readonly DateTime T0 = DateTime.UtcNow.AddMinutes(1);

    private static DateTime At(double seconds) => T0.AddSeconds(seconds);

    /// <summary>A checkout for <paramref name="userId"/> on its own machine, at <paramref name="seconds"/> after T0: the outcome and the session.</summary>
    private static Task<(string Outcome, Guid? Session)> CheckoutAsync(NpgsqlConnection db, long organizationId, long userId, double seconds) =>
        db.QuerySingleAsync<(string, Guid?)>("""
            SELECT d.outcome, d.session_id
            FROM kit_checkout_read_caller(NULL, @organizationId, @userId, 'KRE', 'CI-' || @userId) c
            CROSS JOIN LATERAL kit_checkout_decide(c, false, 'KRE', 'CI-' || @userId, 'p', @id, NULL, @at, @at + interval '5 minutes', 60, false) d
            """, new { organizationId, userId, id = Guid.NewGuid(), at = At(seconds) });

    /// <summary>What a release does: the session's own row ends; the pool's count is left to a later checkout.</summary>
    private static Task ReleaseAsync(NpgsqlConnection db, Guid? session, double seconds) =>
        db.ExecuteAsync("UPDATE floating_session SET ended_at = @at WHERE id = @session", new { session, at = At(seconds) });

    private async Task<int> PoolCountAsync(NpgsqlConnection db) =>
        await db.ExecuteScalarAsync<int>("SELECT floating_live FROM product_allocation WHERE organization_id = @Org AND product_code = 'KRE'", new { Org });

    [Test]
    public async Task A_pool_is_swept_at_most_every_200_ms_and_before_its_count_refuses_a_seat()
    {
        await AllocateAsync(Org, "KRE", 3);
        var runner = await AddMemberAsync(Org, "runner@acme.test");
        await using var db = Db();
        await db.OpenAsync();

        var a = await CheckoutAsync(db, Org, runner, 0);
        await ReleaseAsync(db, a.Session, 0.05);
        var b = await CheckoutAsync(db, Org, runner, 0.1);
        Assert.That((b.Outcome, await PoolCountAsync(db)), Is.EqualTo(("granted", 2)), "100 ms after the last sweep, the released session is still counted");
        var c = await CheckoutAsync(db, Org, runner, 0.3);
        Assert.That((c.Outcome, await PoolCountAsync(db)), Is.EqualTo(("granted", 2)), "200 ms later the pool is swept: B and C");

        await ReleaseAsync(db, b.Session, 0.32);
        await ReleaseAsync(db, c.Session, 0.32);
        var d = await CheckoutAsync(db, Org, runner, 0.35);
        Assert.That((d.Outcome, await PoolCountAsync(db)), Is.EqualTo(("granted", 3)), "B and C still counted: the count is full");
        var e = await CheckoutAsync(db, Org, runner, 0.4);
        Assert.That((e.Outcome, await PoolCountAsync(db)), Is.EqualTo(("granted", 2)), "a full count sweeps before it refuses: D and E");
        Assert.That((await CheckoutAsync(db, Org, runner, 0.45)).Outcome, Is.EqualTo("granted"));
        Assert.That((await CheckoutAsync(db, Org, runner, 0.5)).Outcome, Is.EqualTo("quota_exceeded"), "three live sessions, three seats");
        Assert.That(await PoolCountAsync(db), Is.EqualTo(3));
    }

    [Test]
    public async Task A_seat_withheld_for_a_team_is_decided_on_the_swept_count()
    {
        await AllocateAsync(Org, "KRE", 2);
        await AddMemberAsync(Org, "qa@acme.test");
        var runner = await AddMemberAsync(Org, "runner@acme.test");
        using (var reserved = await ReserveAsync(await TeamAsync("QA", ["qa@acme.test"]), "KRE", 1)) Redirected(reserved);
        await using var db = Db();
        await db.OpenAsync();

        var a = await CheckoutAsync(db, Org, runner, 0);
        Assert.That(a.Outcome, Is.EqualTo("granted"), "one seat is anyone's, the other QA's");
        Assert.That((await CheckoutAsync(db, Org, runner, 0.05)).Outcome, Is.EqualTo("reserved"));
        await ReleaseAsync(db, a.Session, 0.08);
        // Still counted (swept 50 ms ago), A would leave no seat outside QA's reservation: the pool is swept first.
        Assert.That((await CheckoutAsync(db, Org, runner, 0.1)).Outcome, Is.EqualTo("granted"));
        Assert.That(await PoolCountAsync(db), Is.EqualTo(1));
    }
}
