using Dapper;
using Npgsql;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// The calls of a batch of checkouts, one transaction, as the batch runs them: each call
/// leaves its session and its pool's count to the batch, except where the organization reserves seats for teams.
/// </summary>
public class CheckoutBatchTests : SeatRuleTest
{
    /// <summary>One call of a batch, on behalf of <paramref name="userId"/> on machine CI-1.</summary>
    private static Task<(string Outcome, bool Pending)> CallAsync(NpgsqlConnection db, long organizationId, long userId) =>
        db.QuerySingleAsync<(string, bool)>("""
            SELECT d.outcome, d.session_pending
            FROM kit_checkout_read_caller(NULL, @organizationId, @userId, 'KRE', 'CI-1') c
            CROSS JOIN LATERAL kit_checkout_decide(c, false, 'KRE', 'CI-1', 'p', @id, NULL, now(), now() + interval '5 minutes', 60, true) d
            """, new { organizationId, userId, id = Guid.NewGuid() });

    private static Task<int> PoolCountAsync(NpgsqlConnection db, long organizationId) =>
        db.ExecuteScalarAsync<int>("SELECT floating_live FROM product_allocation WHERE organization_id = @organizationId AND product_code = 'KRE'",
            new { organizationId });

    [Test]
    public async Task A_batch_writes_a_pool_s_count_when_it_locks_the_next_pool_and_at_its_end_also_when_a_pool_comes_back()
    {
        await AllocateAsync(Org, "KRE", 3);
        var other = await CreateOrganizationAsync(Admin, "Other");
        await AllocateAsync(other, "KRE", 2);
        var runner = await AddMemberAsync(Org, "runner@acme.test");
        var outsider = await AddMemberAsync(other, "runner@other.test");
        await using var db = Db();
        await db.OpenAsync();
        await using var batch = await db.BeginTransactionAsync();

        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("granted", true)), "the session is left to the batch");
        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("granted", true)));
        Assert.That((await PoolCountAsync(db, Org), await PoolCountAsync(db, other)), Is.EqualTo((0, 0)), "the count is kept with the pool's lock meanwhile");
        Assert.That(await CallAsync(db, other, outsider), Is.EqualTo(("granted", true)));
        Assert.That((await PoolCountAsync(db, Org), await PoolCountAsync(db, other)), Is.EqualTo((2, 0)), "written when the batch locks another pool");
        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("granted", true)));
        Assert.That((await PoolCountAsync(db, Org), await PoolCountAsync(db, other)), Is.EqualTo((2, 1)), "a pool that comes back counts on from what was written");
        await db.ExecuteAsync("SELECT kit_checkout_flush()");
        Assert.That((await PoolCountAsync(db, Org), await PoolCountAsync(db, other)), Is.EqualTo((3, 1)), "the batch's end writes the last pool's count");
        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("quota_exceeded", false)), "three seats, all three granted in this batch");
        Assert.That(await CallAsync(db, other, outsider), Is.EqualTo(("granted", true)));
        await db.ExecuteAsync("SELECT kit_checkout_flush()");
        Assert.That((await PoolCountAsync(db, Org), await PoolCountAsync(db, other)), Is.EqualTo((3, 2)));
    }

    [Test]
    public async Task Where_seats_are_reserved_each_session_is_written_at_once_so_the_next_call_counts_the_team_s_seat()
    {
        await AllocateAsync(Org, "KRE", 3);
        var qa = await AddMemberAsync(Org, "qa@acme.test");
        var runner = await AddMemberAsync(Org, "runner@acme.test");
        using (var reserved = await ReserveAsync(await TeamAsync("QA", ["qa@acme.test"]), "KRE", 1)) Redirected(reserved);
        await using var db = Db();
        await db.OpenAsync();
        await using var batch = await db.BeginTransactionAsync();

        Assert.That(await CallAsync(db, Org, qa), Is.EqualTo(("granted", false)), "written at once: the team's filled seats count it");
        // With QA's reservation filled, both remaining seats are anyone's.
        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("granted", false)));
        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("granted", false)));
        Assert.That(await CallAsync(db, Org, runner), Is.EqualTo(("quota_exceeded", false)));
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE organization_id = @Org AND ended_at IS NULL", new { Org }),
            Is.EqualTo(3));
        Assert.That(await PoolCountAsync(db, Org), Is.EqualTo(3));
    }
}
