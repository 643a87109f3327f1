using Dapper;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// Floating licenses assigned to members. An assignment takes no seat and has no cap: the seats in use are the
/// live sessions. It is what lets a member (or their API key) check the product out where the organization lets
/// only assigned members (organization.floating_assigned_only); the checkout reads it in kit_checkout_read_caller.
/// Called by <see cref="SeatLedger"/> inside its transaction, under the pool's lock.
/// </summary>
internal static class FloatingAssignments
{
    internal static async Task GrantInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode,
        IReadOnlyList<(long UserId, string Email)> users, long actor)
    {
        var holders = (await connection.QueryAsync<string>("""
            SELECT u.email FROM floating_assignment a JOIN public.user_account u ON u.id = a.user_id
            WHERE a.organization_id = @organizationId AND a.product_code = @productCode AND a.user_id = ANY(@ids)
            """, new { organizationId, productCode, ids = users.Select(u => u.UserId).ToArray() }, tx)).ToList();
        if (holders.Count > 0)
            throw new LicenseRuleException("already_licensed", $"{string.Join(", ", holders)} already {(holders.Count == 1 ? "has" : "have")} a {productCode} license. Nothing was granted.");
        foreach (var user in users)
        {
            await connection.ExecuteAsync("""
                INSERT INTO floating_assignment (organization_id, product_code, user_id, assigned_by) VALUES (@organizationId, @productCode, @UserId, @actor)
                """, new { organizationId, productCode, user.UserId, actor }, tx);
            await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.assigned", user.Email, productCode);
        }
    }

    /// <summary>Takes the assignment back and ends the member's live sessions of the product (their seats are free at once); false when there was none.</summary>
    internal static async Task<bool> RecallInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, long userId, DateTimeOffset now)
    {
        var removed = await connection.ExecuteAsync(
            "DELETE FROM floating_assignment WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId",
            new { organizationId, productCode, userId }, tx);
        if (removed == 0) return false;
        await connection.ExecuteAsync("""
            UPDATE floating_session SET ended_at = @now
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND ended_at IS NULL AND expires_at > @now
            """, new { organizationId, productCode, userId, now = now.UtcDateTime }, tx);
        return true;
    }
}
