using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

public sealed record PoolRow(string Code, string Name, ProductKind Kind, SubscriptionKind Subscription, DateTimeOffset? ExpiresAt, int Quota, int InUse)
{
    public int Available => Math.Max(0, Quota - InUse);
}

/// <summary>A seat still held by a former holder's machines: its lease can be checked offline until <see cref="HeldUntil"/>.</summary>
public sealed record HeldSeatRow(string Email, DateTime HeldUntil);

/// <summary>A product whose organizations' shares add up to more seats than the server's license holds now.</summary>
public sealed record OverAllocationRow(string Code, string Name, int Licensed, long Shared, long InUse);

public sealed record AllocationRow(string Code, string Name, int LicenseQuota, long OrganizationId, string OrganizationName, int Quota, int InUse);

/// <summary>What the License Management page reads, and the changes that free seats (which need no quota check).</summary>
public sealed class LicenseRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task<IReadOnlyList<PoolRow>> PoolsAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var products = (await connection.QueryAsync<(string Code, string Name, string Kind, string Subscription, DateTimeOffset? ExpiresAt, int Quota)>("""
            SELECT p.code, p.name, p.kind, p.subscription, p.expires_at, coalesce(a.quota, 0)
            FROM licensed_product p LEFT JOIN product_allocation a ON a.product_code = p.code AND a.organization_id = @organizationId
            ORDER BY p.code
            """, new { organizationId })).ToList();
        var pools = new List<PoolRow>();
        foreach (var p in products)
            pools.Add(new PoolRow(p.Code, p.Name, ProductWords.Kind(p.Kind), ProductWords.Subscription(p.Subscription), p.ExpiresAt, p.Quota,
                await SeatPools.InUseAsync(connection, null, organizationId, p.Code, clock.GetUtcNow())));
        return pools;
    }

    /// <summary>A product's terms, read the way the seat ledger reads them.</summary>
    public async Task<LicensedProductTerms?> ProductTermsAsync(string productCode)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await SeatPools.ProductAsync(connection, null, productCode);
    }

    /// <summary>
    /// The seats that recalled or transferred licenses still hold, as <c>kit_seats_not_floating</c> counts them:
    /// one per former holder whose machines hold a lease valid offline, until the last of those expires.
    /// </summary>
    public async Task<IReadOnlyList<HeldSeatRow>> HeldSeatsAsync(long organizationId, string productCode)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<HeldSeatRow>("""
            SELECT u.email, max(m.lease_expires_at) AS held_until
            FROM machine_activation m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND m.product_code = @productCode AND m.lease_expires_at > @now
              AND NOT EXISTS (SELECT 1 FROM license_assignment a
                              WHERE a.organization_id = m.organization_id AND a.product_code = m.product_code AND a.user_id = m.user_id)
            GROUP BY u.email ORDER BY held_until, u.email
            """, new { organizationId, productCode, now = Now })).AsList();
    }

    /// <summary>Frees a registered machine's place; refused while it runs a live session.</summary>
    public async Task<bool?> RemoveFloatingMachineAsync(long organizationId, string productCode, string machineId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SELECT 1 FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode FOR UPDATE",
            new { organizationId, productCode }, tx);
        var busy = await connection.ExecuteScalarAsync<bool>("""
            SELECT EXISTS (SELECT 1 FROM floating_session WHERE organization_id = @organizationId AND product_code = @productCode
                           AND machine_id = @machineId AND ended_at IS NULL AND expires_at > @now)
            """, new { organizationId, productCode, machineId, now = Now }, tx);
        if (busy) return null;
        var removed = await connection.ExecuteAsync(
            "DELETE FROM floating_machine WHERE organization_id = @organizationId AND product_code = @productCode AND machine_id = @machineId",
            new { organizationId, productCode, machineId }, tx);
        if (removed == 0) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.machine_removed", machineId, productCode);
        await tx.CommitAsync();
        return true;
    }

    public async Task<(string FileName, string Text)?> OfflineFileAsync(long organizationId, Guid id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<(string, string)?>(
            "SELECT file_name, file_text FROM offline_license WHERE organization_id = @organizationId AND id = @id", new { organizationId, id });
    }

    /// <summary>Deactivates one machine of the Online Licenses list; the user keeps the license.</summary>
    public async Task<bool> DeactivateMachineAsync(long organizationId, string productCode, long activationId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var machine = await connection.ExecuteScalarAsync<string?>("""
            UPDATE machine_activation SET deactivated_at = @now
            WHERE organization_id = @organizationId AND product_code = @productCode AND id = @activationId AND deactivated_at IS NULL RETURNING machine_id
            """, new { organizationId, productCode, activationId, now = Now }, tx);
        if (machine is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.machine_deactivated", machine, productCode);
        await tx.CommitAsync();
        return true;
    }

    /// <summary>An admin ends a floating session; its seat is free at once.</summary>
    public async Task<bool> EndSessionAsync(long organizationId, string productCode, Guid sessionId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var machine = await connection.ExecuteScalarAsync<string?>("""
            UPDATE floating_session SET ended_at = @now
            WHERE organization_id = @organizationId AND product_code = @productCode AND id = @sessionId AND ended_at IS NULL AND expires_at > @now
            RETURNING machine_id
            """, new { organizationId, productCode, sessionId, now = Now }, tx);
        if (machine is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "session.ended", machine, productCode);
        await tx.CommitAsync();
        return true;
    }

    /// <summary>The products that a smaller license left over-allocated, with the seats in use across organizations.</summary>
    public async Task<IReadOnlyList<OverAllocationRow>> OverAllocationsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<OverAllocationRow>("""
            SELECT p.code, p.name, p.quota AS licensed, s.shared,
                   (SELECT count(*) FROM license_assignment WHERE product_code = p.code)
                 -- recalled licenses whose leases still verify offline, as kit_seats_not_floating counts them per organization
                 + (SELECT count(DISTINCT (m.organization_id, m.user_id)) FROM machine_activation m
                    WHERE m.product_code = p.code AND m.lease_expires_at > @now
                      AND NOT EXISTS (SELECT 1 FROM license_assignment a
                                      WHERE a.organization_id = m.organization_id AND a.product_code = m.product_code AND a.user_id = m.user_id))
                 + (SELECT count(*) FROM floating_session WHERE product_code = p.code AND ended_at IS NULL AND expires_at > @now)
                 + (SELECT count(*) FROM offline_license WHERE product_code = p.code AND expires_at > @now) AS in_use
            FROM licensed_product p
            JOIN (SELECT product_code, sum(quota) AS shared FROM product_allocation GROUP BY product_code) s ON s.product_code = p.code
            WHERE s.shared > p.quota ORDER BY p.code
            """, new { now = Now })).AsList();
    }

    public async Task<IReadOnlyList<AllocationRow>> AllocationsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = (await connection.QueryAsync<(string Code, string Name, int LicenseQuota, long OrganizationId, string OrganizationName, int Quota)>("""
            SELECT p.code, p.name, p.quota, o.id, o.name, coalesce(a.quota, 0)
            FROM licensed_product p CROSS JOIN organization o
            LEFT JOIN product_allocation a ON a.product_code = p.code AND a.organization_id = o.id
            ORDER BY p.code, lower(o.name), o.id
            """)).ToList();
        var result = new List<AllocationRow>();
        foreach (var r in rows)
            result.Add(new AllocationRow(r.Code, r.Name, r.LicenseQuota, r.OrganizationId, r.OrganizationName, r.Quota,
                await SeatPools.InUseAsync(connection, null, r.OrganizationId, r.Code, clock.GetUtcNow())));
        return result;
    }

    /// <summary>
    /// Sets an organization's share of a product. The product row is locked so that concurrent
    /// changes cannot together hand out more than the license holds; a share below the seats in use is refused.
    /// </summary>
    public async Task SetAllocationAsync(long organizationId, string productCode, int quota, long actor)
    {
        if (quota < 0) throw new LicenseRuleException("invalid_quota", "A share is a whole number of seats, 0 or more.");
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var licenseQuota = await connection.ExecuteScalarAsync<int?>(
            "SELECT quota FROM licensed_product WHERE code = @productCode FOR UPDATE", new { productCode }, tx)
            ?? throw Refusals.Word("unknown_product", new RefusalFacts(productCode));
        var organization = await connection.ExecuteScalarAsync<string?>("SELECT name FROM organization WHERE id = @organizationId", new { organizationId }, tx)
            ?? throw new LicenseRuleException("unknown_organization", "That organization does not exist.");
        var others = await connection.ExecuteScalarAsync<int>(
            "SELECT coalesce(sum(quota), 0) FROM product_allocation WHERE product_code = @productCode AND organization_id <> @organizationId",
            new { productCode, organizationId }, tx);
        var current = await connection.ExecuteScalarAsync<int?>(
            "SELECT quota FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode", new { organizationId, productCode }, tx) ?? 0;
        // Lowering a share is always allowed (down to the seats in use): it is how an over-allocation is resolved.
        if (others + quota > licenseQuota && quota > current)
            throw new LicenseRuleException("quota_exceeded",
                $"The license holds {licenseQuota} {productCode} seats and other organizations have {others}: at most {Math.Max(0, licenseQuota - others)} are left for {organization}.");
        await connection.ExecuteAsync("SELECT 1 FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode FOR UPDATE",
            new { organizationId, productCode }, tx);
        var inUse = await SeatPools.InUseAsync(connection, tx, organizationId, productCode, clock.GetUtcNow());
        if (quota < inUse)
            throw new LicenseRuleException("below_in_use", $"{organization} uses {inUse} {productCode} seats; free some before lowering its share to {quota}.");
        await connection.ExecuteAsync("""
            INSERT INTO product_allocation (organization_id, product_code, quota) VALUES (@organizationId, @productCode, @quota)
            ON CONFLICT (organization_id, product_code) DO UPDATE SET quota = excluded.quota, updated_at = now()
            """, new { organizationId, productCode, quota }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.allocated", productCode, $"{quota} seats");
        await tx.CommitAsync();
    }
}
