using System.Data;
using Dapper;
using Npgsql;

namespace LicenseServer.Data.Audit;

public sealed record AuditRow(long Id, DateTime At, long? ActorUserId, string? ActorEmail, long? OrganizationId, string Action, string? Subject, string? Details);

/// <summary>Who did what, when. Written in the same transaction as the change it records.</summary>
public sealed class AuditRepository(NpgsqlDataSource db)
{
    public static Task WriteAsync(IDbConnection connection, IDbTransaction tx, long? actor, long? organizationId, string action, string? subject, string? details = null) =>
        connection.ExecuteAsync("""
            INSERT INTO audit_event (actor_user_id, organization_id, action, subject, details)
            VALUES (@actor, @organizationId, @action, @subject, @details)
            """, new { actor, organizationId, action, subject, details }, tx);

    public async Task<IReadOnlyList<AuditRow>> ListAsync(long organizationId, int limit = 200)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<AuditRow>("""
            SELECT a.id, a.at, a.actor_user_id, u.email AS actor_email, a.organization_id, a.action, a.subject, a.details
            FROM audit_event a LEFT JOIN public.user_account u ON u.id = a.actor_user_id
            WHERE a.organization_id = @organizationId
            ORDER BY a.id DESC LIMIT @limit
            """, new { organizationId, limit })).AsList();
    }
}
