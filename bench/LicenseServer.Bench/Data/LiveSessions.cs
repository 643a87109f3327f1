using Dapper;
using LicenseServer.Bench.Server;
using Npgsql;

namespace LicenseServer.Bench.Data;

/// <summary>
/// The one place where the bench writes floating sessions behind the server's back: the scale runs' live
/// sessions and the floor's heartbeat targets. After every change it brings any per-pool counter of live
/// sessions (<c>product_allocation.floating_live</c>) back in line with the
/// rows, so that the server sees the same state whichever way it counts.
/// </summary>
public static class LiveSessions
{
    public const string ScaleProcess = "bench-scale";
    public const string FloorProcess = "bench-floor";

    /// <summary>Adds live sessions of the floating product, spread over the users (and so the organizations), until <paramref name="target"/> scale sessions are live.</summary>
    public static async Task<int> FillAsync(NpgsqlDataSource db, BenchDataSet data, int target)
    {
        await using var connection = await db.OpenConnectionAsync();
        var live = await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM floating_session WHERE process_id = @process AND ended_at IS NULL AND expires_at > now()", new { process = ScaleProcess });
        if (live >= target) return live;
        await connection.ExecuteAsync("""
            INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, expires_at)
            SELECT gen_random_uuid(), (@orgs::bigint[])[n % @users + 1], @product, (@userIds::bigint[])[n % @users + 1],
                   'bench-machine-' || lpad((n % @machines)::text, 4, '0'), @process, now(), now(), now() + interval '2 hours'
            FROM generate_series(@from, @to) AS n
            """, new
        {
            orgs = data.Users.Select(u => u.OrganizationId).ToArray(), userIds = data.Users.Select(u => u.Id).ToArray(), users = data.Users.Count,
            product = KitServerProcess.FloatingProduct, machines = data.Machines, process = ScaleProcess, from = live, to = target - 1,
        }, commandTimeout: 300);
        await SyncCountersAsync(connection);
        await connection.ExecuteAsync("VACUUM ANALYZE floating_session", commandTimeout: 300);
        return target;
    }

    /// <summary>
    /// Back from the large scale to <paramref name="target"/> scale sessions: the scale sessions are deleted
    /// (not ended, which would leave 100,000 rows the small scale did not have) and <paramref name="target"/>
    /// are written again the way <see cref="FillAsync"/> wrote them.
    /// </summary>
    public static async Task TrimAsync(NpgsqlDataSource db, BenchDataSet data, int target)
    {
        await using (var connection = await db.OpenConnectionAsync())
            await connection.ExecuteAsync("DELETE FROM floating_session WHERE process_id = @process", new { process = ScaleProcess }, commandTimeout: 300);
        await FillAsync(db, data, target);
    }

    /// <summary>Live sessions with predictable ids <c>md5('bench-' || n)::uuid</c>, n = 1..count, for the floor's heartbeats.</summary>
    public static async Task AddPredictableAsync(NpgsqlDataSource db, long organizationId, long userId, string machineId, int count)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, expires_at)
            SELECT md5('bench-' || n)::uuid, @organizationId, @product, @userId, @machineId, @process, now(), now(), now() + interval '2 hours'
            FROM generate_series(1, @count) AS n
            """, new { organizationId, userId, machineId, count, product = KitServerProcess.FloatingProduct, process = FloorProcess });
        await SyncCountersAsync(connection);
    }

    /// <summary>
    /// <paramref name="count"/> live sessions of one organization, spread over its <paramref name="users"/> and
    /// <paramref name="machines"/> machines named <paramref name="machinePrefix"/>0000 and on, started a second apart.
    /// </summary>
    public static async Task AddSpreadAsync(NpgsqlDataSource db, long organizationId, long[] users, string machinePrefix, int machines, int count, string processId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, expires_at)
            SELECT gen_random_uuid(), @organizationId, @product, (@users::bigint[])[n % cardinality(@users) + 1],
                   @machinePrefix || lpad((n % @machines)::text, 4, '0'), @processId, now() - n * interval '1 second', now(), now() + interval '2 hours'
            FROM generate_series(0, @count - 1) AS n
            """, new { organizationId, users, machinePrefix, machines, count, processId, product = KitServerProcess.FloatingProduct }, commandTimeout: 300);
        await SyncCountersAsync(connection);
        await connection.ExecuteAsync("VACUUM ANALYZE", commandTimeout: 300);
    }

    /// <summary>Ends the sessions of one process id (the floor's, when pgbench is done), and cleans up after them.</summary>
    public static async Task EndAsync(NpgsqlDataSource db, string processId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE floating_session SET ended_at = now() WHERE process_id = @processId AND ended_at IS NULL", new { processId });
        await SyncCountersAsync(connection);
        await connection.ExecuteAsync("VACUUM ANALYZE floating_session, floating_machine, product_allocation, api_key", commandTimeout: 300);
    }

    public static async Task<long> LiveCountAsync(NpgsqlDataSource db)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > now()");
    }

    /// <summary>Each pool's count of counted sessions (db-migrations/0011), as the server keeps it, after sessions were written here.</summary>
    private static async Task SyncCountersAsync(NpgsqlConnection connection) =>
        await connection.ExecuteAsync("""
            UPDATE floating_session SET counted = false WHERE counted AND ended_at IS NOT NULL;
            UPDATE product_allocation a SET floating_live = (
                SELECT count(*) FROM floating_session s
                WHERE s.organization_id = a.organization_id AND s.product_code = a.product_code AND s.counted);
            """);
}
