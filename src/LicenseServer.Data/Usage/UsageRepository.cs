using Dapper;
using LicenseServer.Data.Licenses;
using Npgsql;

namespace LicenseServer.Data.Usage;

public sealed record UsageSample(DateTime SampledAt, int InUse, int Quota);

public sealed record RefusalRow(DateTime At, string Code, string? Email, string? MachineId);

/// <summary>Usage samples and seat refusals, for the Usage page and its CSV.</summary>
public sealed class UsageRepository(NpgsqlDataSource db)
{
    /// <summary>
    /// Writes one sample for every organization's share at <paramref name="bucket"/>. Seats in use are
    /// counted by the seat ledger's own query, so the chart and the ledger never disagree; that is a
    /// query per share, which is fine once a minute. A bucket another node wrote already is kept.
    /// </summary>
    /// <returns>How many samples were written.</returns>
    public async Task<int> SampleAsync(DateTimeOffset bucket, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        var shares = (await connection.QueryAsync<(long OrganizationId, string ProductCode, int Quota)>(
            "SELECT organization_id, product_code, quota FROM product_allocation WHERE quota > 0 ORDER BY organization_id, product_code")).ToList();
        var written = 0;
        foreach (var share in shares)
        {
            var inUse = await SeatPools.InUseAsync(connection, null, share.OrganizationId, share.ProductCode, now);
            written += await connection.ExecuteAsync("""
                INSERT INTO usage_sample (organization_id, product_code, sampled_at, in_use, quota)
                VALUES (@OrganizationId, @ProductCode, @bucket, @inUse, @Quota)
                ON CONFLICT DO NOTHING
                """, new { share.OrganizationId, share.ProductCode, bucket = bucket.UtcDateTime, inUse, share.Quota });
        }
        return written;
    }

    /// <summary>Seats in use and the share of one product now, for an alert.</summary>
    public async Task<(int InUse, int Quota)> PoolAsync(long organizationId, string productCode, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        var quota = await connection.ExecuteScalarAsync<int?>(
            "SELECT quota FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode",
            new { organizationId, productCode }) ?? 0;
        return (await SeatPools.InUseAsync(connection, null, organizationId, productCode, now), quota);
    }

    /// <summary>The samples of [from, to], oldest first: the chart's points and the CSV's rows.</summary>
    public async Task<IReadOnlyList<UsageSample>> SamplesAsync(long organizationId, string productCode, DateTimeOffset from, DateTimeOffset to)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<UsageSample>("""
            SELECT sampled_at, in_use, quota FROM usage_sample
            WHERE organization_id = @organizationId AND product_code = @productCode AND sampled_at >= @from AND sampled_at <= @to
            ORDER BY sampled_at
            """, new { organizationId, productCode, from = from.UtcDateTime, to = to.UtcDateTime })).AsList();
    }

    public async Task RecordRefusalAsync(long organizationId, string productCode, string code, long? userId, string? machineId, DateTimeOffset at)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO seat_refusal (organization_id, product_code, at, code, user_id, machine_id)
            VALUES (@organizationId, @productCode, @at, @code, @userId, @machineId)
            """, new { organizationId, productCode, at = at.UtcDateTime, code, userId, machineId });
    }

    /// <summary>How many seats were refused in [from, to], and the latest <paramref name="limit"/> of them.</summary>
    public async Task<(long Count, IReadOnlyList<RefusalRow> Latest)> RefusalsAsync(long organizationId, string productCode, DateTimeOffset from, DateTimeOffset to, int limit)
    {
        var args = new { organizationId, productCode, from = from.UtcDateTime, to = to.UtcDateTime, limit };
        await using var connection = await db.OpenConnectionAsync();
        var count = await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM seat_refusal WHERE organization_id = @organizationId AND product_code = @productCode AND at >= @from AND at <= @to
            """, args);
        var rows = await connection.QueryAsync<RefusalRow>("""
            SELECT r.at, r.code, u.email, r.machine_id
            FROM seat_refusal r LEFT JOIN public.user_account u ON u.id = r.user_id
            WHERE r.organization_id = @organizationId AND r.product_code = @productCode AND r.at >= @from AND r.at <= @to
            ORDER BY r.at DESC, r.id DESC LIMIT @limit
            """, args);
        return (count, rows.AsList());
    }

    /// <summary>
    /// Forgets samples and refusals older than <paramref name="before"/>, and floating sessions that ended before it
    /// once their pool's count no longer includes them (kit_uncount_sessions marks them): a busy server ends thousands
    /// of sessions a day, and every row kept makes each checkout's index writes dearer.
    /// </summary>
    public async Task<int> PurgeAsync(DateTimeOffset before)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteAsync("""
            DELETE FROM usage_sample WHERE sampled_at < @before;
            DELETE FROM seat_refusal WHERE at < @before;
            DELETE FROM floating_session WHERE NOT counted AND ended_at < @before;
            """, new { before = before.UtcDateTime });
    }
}
