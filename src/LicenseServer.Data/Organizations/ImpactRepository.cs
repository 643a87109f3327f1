using Dapper;
using Npgsql;

namespace LicenseServer.Data.Organizations;

/// <summary>What removing a member takes with them in this organization.</summary>
public sealed record MemberImpact(string Email, long Licenses, long Sessions, long Machines, long ApiKeys, long Teams);

/// <summary>
/// A license held by one member: their machines with a lease, and when the last lease runs out (the seat is held
/// until then); for a floating license (<paramref name="Floating"/>), their live sessions, which end with it.
/// </summary>
public sealed record LicenseImpact(string Email, long Machines, DateTime? LeasedUntil, bool Floating, long Sessions);

public sealed record ActivationImpact(string Email, string MachineId, DateTime LeaseExpiresAt);

public sealed record SessionImpact(string Email, string MachineId, string ProcessId);

/// <summary>What deleting a user takes in all their organizations.</summary>
public sealed record UserDeletionImpact(string Email, long Organizations, long Licenses, long Sessions, long Machines, long ApiKeys);

public sealed record TeamImpact(string Name, long Members, long ReservedSeats);

/// <summary>A member of a team, and the seats the team reserves (which the member no longer draws on once removed).</summary>
public sealed record TeamMemberImpact(string Email, string Team, long ReservedSeats);

/// <summary>The licenses a bulk recall would take back, from how many members, and the machines whose leases keep a seat held.</summary>
public sealed record RecallImpact(long Licenses, long Members, long LeasedMachines);

/// <summary>
/// What a destructive action would change, counted before it runs, so that its confirmation can say it in
/// numbers. Each read is scoped to the organization (and product) of the page that asks: another
/// organization's row reads as absent. Leases and sessions are live by the server's clock, as the seat ledger counts them.
/// </summary>
public sealed class ImpactRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task<MemberImpact?> MemberRemovalAsync(long organizationId, long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<MemberImpact>("""
            SELECT u.email,
                   (SELECT count(*) FROM license_assignment WHERE organization_id = m.organization_id AND user_id = m.user_id)
                   + (SELECT count(*) FROM floating_assignment WHERE organization_id = m.organization_id AND user_id = m.user_id) AS licenses,
                   (SELECT count(*) FROM floating_session WHERE organization_id = m.organization_id AND user_id = m.user_id
                    AND ended_at IS NULL AND expires_at > @now) AS sessions,
                   (SELECT count(*) FROM machine_activation WHERE organization_id = m.organization_id AND user_id = m.user_id AND deactivated_at IS NULL) AS machines,
                   (SELECT count(*) FROM api_key WHERE organization_id = m.organization_id AND user_id = m.user_id AND revoked_at IS NULL) AS api_keys,
                   (SELECT count(*) FROM team_member tm JOIN team t ON t.id = tm.team_id WHERE t.organization_id = m.organization_id AND tm.user_id = m.user_id) AS teams
            FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND m.user_id = @userId
            """, new { organizationId, userId, now = Now });
    }

    public async Task<LicenseImpact?> LicenseAsync(long organizationId, string productCode, long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<LicenseImpact>("""
            SELECT u.email,
                   (SELECT count(*) FROM machine_activation m WHERE m.organization_id = a.organization_id AND m.product_code = a.product_code
                    AND m.user_id = a.user_id AND m.deactivated_at IS NULL AND m.lease_expires_at > @now) AS machines,
                   (SELECT max(m.lease_expires_at) FROM machine_activation m WHERE m.organization_id = a.organization_id AND m.product_code = a.product_code
                    AND m.user_id = a.user_id AND m.lease_expires_at > @now) AS leased_until,
                   a.floating,
                   (SELECT count(*) FROM floating_session s WHERE s.organization_id = a.organization_id AND s.product_code = a.product_code
                    AND s.user_id = a.user_id AND s.ended_at IS NULL AND s.expires_at > @now) AS sessions
            FROM (SELECT organization_id, product_code, user_id, false AS floating FROM license_assignment
                  UNION ALL SELECT organization_id, product_code, user_id, true FROM floating_assignment) a
            JOIN public.user_account u ON u.id = a.user_id
            WHERE a.organization_id = @organizationId AND a.product_code = @productCode AND a.user_id = @userId
            """, new { organizationId, productCode, userId, now = Now });
    }

    public async Task<ActivationImpact?> ActivationAsync(long organizationId, string productCode, long activationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<ActivationImpact>("""
            SELECT u.email, m.machine_id, m.lease_expires_at FROM machine_activation m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND m.product_code = @productCode AND m.id = @activationId AND m.deactivated_at IS NULL
            """, new { organizationId, productCode, activationId });
    }

    public async Task<SessionImpact?> SessionAsync(long organizationId, string productCode, Guid sessionId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<SessionImpact>("""
            SELECT u.email, s.machine_id, s.process_id FROM floating_session s JOIN public.user_account u ON u.id = s.user_id
            WHERE s.organization_id = @organizationId AND s.product_code = @productCode AND s.id = @sessionId AND s.ended_at IS NULL AND s.expires_at > @now
            """, new { organizationId, productCode, sessionId, now = Now });
    }

    /// <summary>The live sessions of one machine in the organization, which disabling it ends.</summary>
    public async Task<long> MachineSessionsAsync(long organizationId, string machineId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM floating_session WHERE organization_id = @organizationId AND machine_id = @machineId AND ended_at IS NULL AND expires_at > @now
            """, new { organizationId, machineId, now = Now });
    }

    /// <summary>The caller's own key that is not revoked yet: its name and prefix.</summary>
    public async Task<(string Name, string Prefix)?> ApiKeyAsync(long organizationId, long userId, long keyId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<(string, string)?>("""
            SELECT name, prefix FROM api_key WHERE organization_id = @organizationId AND user_id = @userId AND id = @keyId AND revoked_at IS NULL
            """, new { organizationId, userId, keyId });
    }

    public async Task<TeamImpact?> TeamAsync(long organizationId, long teamId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<TeamImpact>("""
            SELECT t.name, (SELECT count(*) FROM team_member WHERE team_id = t.id) AS members,
                   (SELECT coalesce(sum(seats), 0) FROM team_reservation WHERE team_id = t.id) AS reserved_seats
            FROM team t WHERE t.organization_id = @organizationId AND t.id = @teamId
            """, new { organizationId, teamId });
    }

    public async Task<TeamMemberImpact?> TeamMemberAsync(long organizationId, long teamId, long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<TeamMemberImpact>("""
            SELECT u.email, t.name AS team, (SELECT coalesce(sum(seats), 0) FROM team_reservation WHERE team_id = t.id) AS reserved_seats
            FROM team t JOIN team_member tm ON tm.team_id = t.id JOIN public.user_account u ON u.id = tm.user_id
            WHERE t.organization_id = @organizationId AND t.id = @teamId AND tm.user_id = @userId
            """, new { organizationId, teamId, userId });
    }

    /// <summary>The email of an invitation still open (not accepted, not revoked) of the organization; null otherwise.</summary>
    public async Task<string?> OpenInvitationAsync(long organizationId, long invitationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string?>("""
            SELECT email FROM invitation WHERE organization_id = @organizationId AND id = @invitationId AND accepted_at IS NULL AND revoked_at IS NULL
            """, new { organizationId, invitationId });
    }

    public async Task<RecallImpact> RecallAsync(long organizationId, string[] products, long[] userIds)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleAsync<RecallImpact>("""
            SELECT count(*) AS licenses, count(DISTINCT a.user_id) AS members,
                   (SELECT count(*) FROM machine_activation m WHERE m.organization_id = @organizationId AND m.product_code = ANY(@products)
                    AND m.user_id = ANY(@userIds) AND m.deactivated_at IS NULL AND m.lease_expires_at > @now) AS leased_machines
            FROM (SELECT organization_id, product_code, user_id FROM license_assignment
                  UNION ALL SELECT organization_id, product_code, user_id FROM floating_assignment) a WHERE a.organization_id = @organizationId AND a.product_code = ANY(@products) AND a.user_id = ANY(@userIds)
            """, new { organizationId, products, userIds, now = Now });
    }

    /// <summary>What deleting a user takes, over all their organizations: the same as removing them from each.</summary>
    public async Task<UserDeletionImpact?> UserDeletionAsync(long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<UserDeletionImpact>("""
            SELECT u.email, (SELECT count(*) FROM organization_member WHERE user_id = u.id) AS organizations,
                   (SELECT count(*) FROM license_assignment a WHERE a.user_id = u.id AND EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = a.organization_id AND m.user_id = u.id))
                   + (SELECT count(*) FROM floating_assignment a WHERE a.user_id = u.id AND EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = a.organization_id AND m.user_id = u.id)) AS licenses,
                   (SELECT count(*) FROM floating_session WHERE user_id = u.id AND ended_at IS NULL AND expires_at > @now) AS sessions,
                   (SELECT count(*) FROM machine_activation WHERE user_id = u.id AND deactivated_at IS NULL) AS machines,
                   (SELECT count(*) FROM api_key WHERE user_id = u.id AND revoked_at IS NULL) AS api_keys
            FROM public.user_account u WHERE u.id = @userId AND u.deleted_at IS NULL
            """, new { userId, now = Now });
    }

    /// <summary>A user's email and the organizations they belong to, for the server admin's disable.</summary>
    public async Task<(string Email, long Organizations)?> UserAsync(long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<(string, long)?>("""
            SELECT u.email, (SELECT count(*) FROM organization_member WHERE user_id = u.id) FROM public.user_account u WHERE u.id = @userId AND u.deleted_at IS NULL
            """, new { userId });
    }
}
