using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;
using static LicenseServer.Data.Licenses.SeatPools;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// Grants, recalls, transfers and offline licenses: the seats taken by people, as floating checkouts
/// (Sessions/FloatingSessions.cs) are taken by processes. Each path opens one short transaction, locks the pool
/// row (the organization's allocation of the product) FOR UPDATE with a lock timeout (SeatPools.cs, which also
/// counts and judges it), and writes only if the quota allows: a product's seats never exceed its quota,
/// however many requests race on however many nodes. Seats in use = per-user assignments + live floating
/// sessions + unexpired offline licenses. Under the same lock, a grant also honours the teams' reservations.
/// A floating product is assigned and recalled here too, by the same forms, but its assignment takes no seat
/// (<see cref="FloatingAssignments"/>).
/// </summary>
public sealed class SeatLedger(NpgsqlDataSource db, TimeProvider clock)
{
    /// <summary>Per-user licenses for several members at once, all or none.</summary>
    public async Task AssignAsync(long organizationId, string productCode, IReadOnlyList<(long UserId, string Email)> users, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await GrantInAsync(connection, tx, organizationId, productCode, users, actor, clock.GetUtcNow());
        await tx.CommitAsync();
    }

    /// <summary>Several products for several members, granted or recalled together, all or nothing.</summary>
    public async Task BulkAsync(long organizationId, IReadOnlyList<string> productCodes, IReadOnlyList<(long UserId, string Email)> users, bool grant, long actor)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        foreach (var code in productCodes.Order(StringComparer.Ordinal)) // one lock order for every caller: no deadlock
        {
            if (grant)
            {
                var holders = (await connection.QueryAsync<long>("""
                    SELECT user_id FROM license_assignment WHERE organization_id = @organizationId AND product_code = @code
                    UNION ALL SELECT user_id FROM floating_assignment WHERE organization_id = @organizationId AND product_code = @code
                    """, new { organizationId, code }, tx)).ToHashSet();
                try
                {
                    await GrantInAsync(connection, tx, organizationId, code, users.Where(u => !holders.Contains(u.UserId)).ToList(), actor, now);
                }
                catch (LicenseRuleException e)
                {
                    e.Product ??= code;
                    throw;
                }
            }
            else
            {
                await LockPoolAsync(connection, tx, organizationId, code, now);
                foreach (var user in users) await RecallInAsync(connection, tx, organizationId, code, user, actor, now);
            }
        }
        await tx.CommitAsync();
    }

    private static async Task GrantInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode,
        IReadOnlyList<(long UserId, string Email)> users, long actor, DateTimeOffset now)
    {
        // Member rows before the pool, the order a member's removal takes them in too.
        if (users.Count > 0) await RequireMembersAsync(connection, tx, organizationId, users);
        var pool = await LockPoolAsync(connection, tx, organizationId, productCode, now);
        RequireUsable(pool, now);
        if (users.Count == 0) return;
        if (pool.Product.Kind != ProductKind.PerUser)
        {
            await FloatingAssignments.GrantInAsync(connection, tx, organizationId, productCode, users, actor);
            return;
        }
        var holders = (await connection.QueryAsync<string>("""
            SELECT u.email FROM license_assignment a JOIN public.user_account u ON u.id = a.user_id
            WHERE a.organization_id = @organizationId AND a.product_code = @productCode AND a.user_id = ANY(@ids)
            """, new { organizationId, productCode, ids = users.Select(u => u.UserId).ToArray() }, tx)).ToList();
        if (holders.Count > 0)
            throw new LicenseRuleException("already_licensed", $"{string.Join(", ", holders)} already {(holders.Count == 1 ? "has" : "have")} a {productCode} license. Nothing was granted.");
        RequireSeats(pool, users.Count);
        var reservations = await ReservationsAsync(connection, tx, organizationId, productCode, users.Select(u => u.UserId).ToArray(), null, now);
        SeatReservations.Require(productCode, pool.Available, reservations, users.Select(u => (long?)u.UserId).ToList());
        foreach (var user in users)
        {
            await connection.ExecuteAsync("""
                INSERT INTO license_assignment (organization_id, product_code, user_id, assigned_by) VALUES (@organizationId, @productCode, @UserId, @actor)
                """, new { organizationId, productCode, user.UserId, actor }, tx);
            await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.assigned", user.Email, productCode);
        }
    }

    /// <summary>
    /// Membership checked again inside the grant, holding the member rows FOR SHARE: a removal racing the
    /// grant waits for it (and then takes the license back), or the grant finds the member gone.
    /// </summary>
    private static async Task RequireMembersAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, IReadOnlyList<(long UserId, string Email)> users)
    {
        var members = (await connection.QueryAsync<long>("""
            SELECT user_id FROM organization_member WHERE organization_id = @organizationId AND user_id = ANY(@ids) FOR SHARE
            """, new { organizationId, ids = users.Select(u => u.UserId).ToArray() }, tx)).ToHashSet();
        if (users.Where(u => !members.Contains(u.UserId)).Select(u => u.Email).ToList() is { Count: > 0 } gone)
            throw new LicenseRuleException("not_a_member",
                $"{string.Join(", ", gone)} {(gone.Count == 1 ? "is" : "are")} no longer a member of this organization. Nothing was granted.");
    }

    private static async Task<bool> RecallInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode,
        (long UserId, string Email) user, long actor, DateTimeOffset now)
    {
        var removed = await FloatingAssignments.RecallInAsync(connection, tx, organizationId, productCode, user.UserId, now) ? 1 : 0;
        removed += await connection.ExecuteAsync("""
            UPDATE machine_activation SET deactivated_at = now()
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @UserId AND deactivated_at IS NULL;
            DELETE FROM license_assignment WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @UserId;
            """, new { organizationId, productCode, user.UserId }, tx);
        if (removed == 0) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.unassigned", user.Email, productCode);
        return true;
    }

    /// <summary>
    /// Takes the license back (and deactivates the user's machines for it). Returns when its seat is
    /// free: now, or when the last lease the user's machines hold expires.
    /// </summary>
    public async Task<DateTimeOffset?> UnassignAsync(long organizationId, string productCode, (long UserId, string Email) user, long actor)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await LockPoolAsync(connection, tx, organizationId, productCode, now);
        if (!await RecallInAsync(connection, tx, organizationId, productCode, user, actor, now))
            throw new LicenseRuleException("not_licensed", $"{user.Email} has no {productCode} license.");
        var heldUntil = await LeasesValidUntilAsync(connection, tx, organizationId, productCode, user.UserId, now);
        await tx.CommitAsync();
        return heldUntil;
    }

    /// <summary>
    /// Moves a license from one member to another in one step. The seat count does not change,
    /// unless the old holder's machines still hold valid leases (see <see cref="NotFloatingInUseSql"/>).
    /// </summary>
    public async Task TransferAsync(long organizationId, string productCode, (long UserId, string Email) from, (long UserId, string Email) to, long actor)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await RequireMembersAsync(connection, tx, organizationId, [to]);
        var pool = await LockPoolAsync(connection, tx, organizationId, productCode, now);
        // The old holder's machines keep verifying their leases offline until they expire: meanwhile the
        // old holder keeps a seat, so the new holder needs a free one.
        var leasesUntil = await LeasesValidUntilAsync(connection, tx, organizationId, productCode, from.UserId, now);
        if (leasesUntil is { } until && pool.Available < 1)
            throw new LicenseRuleException("quota_exceeded",
                $"{from.Email}'s machines hold {productCode} leases valid offline until {until:yyyy-MM-dd HH:mm} UTC, so that seat stays taken until then, " +
                $"and no other {productCode} seat is free for {to.Email}. Free a seat, or transfer after that time.");
        var hasTarget = await connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM license_assignment WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @UserId)",
            new { organizationId, productCode, to.UserId }, tx);
        if (hasTarget) throw new LicenseRuleException("already_licensed", $"{to.Email} already has a {productCode} license.");
        var moved = await connection.ExecuteAsync("""
            UPDATE machine_activation SET deactivated_at = now()
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @fromId AND deactivated_at IS NULL;
            UPDATE license_assignment SET user_id = @toId, assigned_at = now(), assigned_by = @actor
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @fromId;
            """, new { organizationId, productCode, fromId = from.UserId, toId = to.UserId, actor }, tx);
        if (moved == 0) throw new LicenseRuleException("not_licensed", $"{from.Email} has no {productCode} license to transfer.");
        // Judged as if the seat were free (unless the old holder's leases keep it) and then granted to the new holder.
        var reservations = await ReservationsAsync(connection, tx, organizationId, productCode, [to.UserId], to.UserId, now);
        SeatReservations.Require(productCode, pool.Available + (leasesUntil is null ? 1 : 0), reservations, [to.UserId]);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.transferred", to.Email, $"{productCode} from {from.Email}");
        await tx.CommitAsync();
    }

    /// <summary>
    /// Takes a seat until <paramref name="expiresAt"/> for a machine, and stores the signed file that
    /// <paramref name="sign"/> makes, in the same transaction.
    /// </summary>
    public async Task<Guid> CreateOfflineAsync(long organizationId, string productCode, string machineId, DateTimeOffset expiresAt, long actor,
        Func<Guid, LicensedProductTerms, DateTimeOffset, (string FileName, string Text)> sign)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var pool = await LockPoolAsync(connection, tx, organizationId, productCode, now);
        RequireUsable(pool, now);
        RequireSeats(pool, 1);
        // An offline license is bound to no user: it takes only unreserved seats.
        SeatReservations.Require(productCode, pool.Available, await ReservationsAsync(connection, tx, organizationId, productCode, [], null, now), [null]);
        var id = Guid.NewGuid();
        var (fileName, text) = sign(id, pool.Product, now);
        await connection.ExecuteAsync("""
            INSERT INTO offline_license (id, organization_id, product_code, machine_id, expires_at, created_at, created_by, file_name, file_text)
            VALUES (@id, @organizationId, @productCode, @machineId, @expiresAt, @now, @actor, @fileName, @text)
            """, new { id, organizationId, productCode, machineId, expiresAt = expiresAt.UtcDateTime, now = now.UtcDateTime, actor, fileName, text }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.offline_created", machineId, $"{productCode} until {expiresAt.UtcDateTime:yyyy-MM-dd}");
        await tx.CommitAsync();
        return id;
    }
}
