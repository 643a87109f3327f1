using Dapper;
using Npgsql;

namespace LicenseServer.Data.Metrics;

public sealed record ShareCount(long OrganizationId, string OrganizationName, string ProductCode, int Quota, long InUse);

public sealed record LicensedSeats(string ProductCode, int Quota);

public sealed record SeatCounts(IReadOnlyList<ShareCount> Shares, IReadOnlyList<LicensedSeats> Licensed, DateTimeOffset? LicenseValidUntil);

/// <summary>Every organization's seats in use and the license's quotas, read when /metrics is scraped.</summary>
public sealed class SeatCountRepository(NpgsqlDataSource db)
{
    /// <summary>
    /// Seats in use are counted as the seat ledger counts them outside its lock (assignments, leases still
    /// valid offline and offline licenses by the database's own kit_seats_not_floating, plus live floating
    /// sessions), for every share in one statement: a scrape costs one round trip whatever the number of
    /// organizations, and an index range per share over the live sessions.
    /// </summary>
    public async Task<SeatCounts> CountAsync(DateTimeOffset now, CancellationToken cancel)
    {
        await using var connection = await db.OpenConnectionAsync(cancel);
        using var batch = await connection.QueryMultipleAsync(new CommandDefinition("""
            SELECT a.organization_id, o.name AS organization_name, a.product_code, a.quota,
                   kit_seats_not_floating(a.organization_id, a.product_code, @now)
                 + (SELECT count(*) FROM floating_session s
                    WHERE s.organization_id = a.organization_id AND s.product_code = a.product_code
                      AND s.ended_at IS NULL AND s.expires_at > @now) AS in_use
            FROM product_allocation a JOIN organization o ON o.id = a.organization_id
            ORDER BY a.organization_id, a.product_code;
            SELECT code AS product_code, quota FROM licensed_product ORDER BY code;
            SELECT valid_until FROM server_license;
            """, new { now = now.UtcDateTime }, cancellationToken: cancel));
        var shares = (await batch.ReadAsync<ShareCount>()).AsList();
        var licensed = (await batch.ReadAsync<LicensedSeats>()).AsList();
        var validUntil = await batch.ReadSingleOrDefaultAsync<DateTimeOffset?>();
        return new SeatCounts(shares, licensed, validUntil);
    }
}
