using Dapper;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>A license assigned to the person; <paramref name="ProductKind"/> as the license file words it (per-user or floating).</summary>
public sealed record MyAssignment(long OrganizationId, string OrganizationName, string ProductCode, string ProductName, DateTime AssignedAt, string ProductKind);

public sealed record MyMachine(long Id, long OrganizationId, string OrganizationName, string ProductCode, string MachineId,
    DateTime ActivatedAt, DateTime LastSeenAt, DateTime LeaseExpiresAt);

public sealed record MySession(Guid Id, long OrganizationId, string OrganizationName, string ProductCode, string MachineId, string ProcessId,
    DateTime StartedAt, DateTime LastHeartbeatAt, DateTime ExpiresAt);

/// <summary>One person's licenses in every organization they belong to: assignments, active machines, live sessions.</summary>
public sealed record MyLicenses(IReadOnlyList<MyAssignment> Assignments, IReadOnlyList<MyMachine> Machines, IReadOnlyList<MySession> Sessions);

/// <summary>
/// What a signed-in person holds, read for them alone (every query is bound to their user id and to the
/// organizations they are still a member of), and their own machine's deactivation.
/// </summary>
public sealed class MyLicenseRepository(NpgsqlDataSource db, TimeProvider clock)
{
    /// <summary>The person's licenses in every organization they belong to, or in <paramref name="organizationId"/> only (a member's page).</summary>
    public async Task<MyLicenses> ForUserAsync(long userId, long? organizationId = null)
    {
        await using var connection = await db.OpenConnectionAsync();
        var now = clock.GetUtcNow().UtcDateTime;
        var assignments = await connection.QueryAsync<MyAssignment>("""
            SELECT a.organization_id, o.name AS organization_name, a.product_code, p.name AS product_name, a.assigned_at, p.kind AS product_kind
            FROM (SELECT organization_id, product_code, user_id, assigned_at FROM license_assignment
                  UNION ALL SELECT organization_id, product_code, user_id, assigned_at FROM floating_assignment) a
            JOIN organization_member m ON m.organization_id = a.organization_id AND m.user_id = a.user_id
            JOIN organization o ON o.id = a.organization_id JOIN licensed_product p ON p.code = a.product_code
            WHERE a.user_id = @userId AND (@organizationId IS NULL OR a.organization_id = @organizationId)
            ORDER BY lower(o.name), a.organization_id, a.product_code
            """, new { userId, organizationId });
        var machines = await connection.QueryAsync<MyMachine>("""
            SELECT a.id, a.organization_id, o.name AS organization_name, a.product_code, a.machine_id, a.activated_at, a.last_seen_at, a.lease_expires_at
            FROM machine_activation a
            JOIN organization_member m ON m.organization_id = a.organization_id AND m.user_id = a.user_id
            JOIN organization o ON o.id = a.organization_id
            WHERE a.user_id = @userId AND a.deactivated_at IS NULL AND (@organizationId IS NULL OR a.organization_id = @organizationId)
            ORDER BY lower(o.name), a.organization_id, a.product_code, a.last_seen_at DESC
            """, new { userId, organizationId });
        var sessions = await connection.QueryAsync<MySession>("""
            SELECT s.id, s.organization_id, o.name AS organization_name, s.product_code, s.machine_id, s.process_id, s.started_at, s.last_heartbeat_at, s.expires_at
            FROM floating_session s
            JOIN organization_member m ON m.organization_id = s.organization_id AND m.user_id = s.user_id
            JOIN organization o ON o.id = s.organization_id
            WHERE s.user_id = @userId AND s.ended_at IS NULL AND s.expires_at > @now AND (@organizationId IS NULL OR s.organization_id = @organizationId)
            ORDER BY lower(o.name), s.organization_id, s.product_code, s.started_at
            """, new { userId, organizationId, now });
        return new MyLicenses(assignments.AsList(), machines.AsList(), sessions.AsList());
    }

    /// <summary>The organization and product of one of the person's own active machines (null for anyone else's, or one already deactivated).</summary>
    public async Task<(long OrganizationId, string ProductCode, string MachineId, DateTime LeaseExpiresAt)?> OwnMachineAsync(long userId, long activationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<(long, string, string, DateTime)?>("""
            SELECT a.organization_id, a.product_code, a.machine_id, a.lease_expires_at FROM machine_activation a
            JOIN organization_member m ON m.organization_id = a.organization_id AND m.user_id = a.user_id
            WHERE a.id = @activationId AND a.user_id = @userId AND a.deactivated_at IS NULL
            """, new { userId, activationId });
    }
}
