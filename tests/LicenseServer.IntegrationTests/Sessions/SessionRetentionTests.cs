using Dapper;
using LicenseServer.Data.Usage;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Sessions;

/// <summary>
/// Ended floating sessions do not pile up: a busy server ends thousands a day, and every row left makes each checkout
/// a little dearer. They go with the usage history (Kit:Usage:RetentionDays), once the pool's count no longer
/// includes them; a live one, or one whose end the pool has not counted yet, stays whatever its age.
/// </summary>
public sealed class SessionRetentionTests : LicenseTest
{
    [Test]
    public async Task Sessions_that_ended_before_the_retention_are_deleted_and_no_other()
    {
        var userId = await KreMemberAsync("runner@acme.test");
        await using var db = Db();
        var rows = new (string Name, string Started, string? Ended, bool Counted, string Expires)[]
        {
            ("old ended, off the count", "100 days", "95 days", false, "95 days"),
            ("old ended, still counted", "100 days", "95 days", true, "95 days"),
            ("recently ended", "10 days", "9 days", false, "9 days"),
            ("live", "100 days", null, true, "-5 minutes"),
        };
        foreach (var (name, started, ended, counted, expires) in rows)
            await db.ExecuteAsync($"""
                INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, ended_at, counted, expires_at)
                VALUES (gen_random_uuid(), @Org, 'KRE', @userId, @name, '1', now() - interval '{started}', now() - interval '{started}',
                        {(ended is null ? "NULL" : $"now() - interval '{ended}'")}, @counted, now() - interval '{expires}')
                """, new { Org, userId, name, counted });

        await Server.Service<UsageRepository>().PurgeAsync(Clock.GetUtcNow().AddDays(-90));

        Assert.That(await db.QueryAsync<string>("SELECT machine_id FROM floating_session ORDER BY machine_id"),
            Is.EqualTo(new[] { "live", "old ended, still counted", "recently ended" }));
    }
}
