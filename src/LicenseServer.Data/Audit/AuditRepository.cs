using System.Data;
using Dapper;
using Npgsql;

namespace LicenseServer.Data.Audit;

public sealed record AuditFilter(string? ActionPrefix, string? Actor, string? Subject, DateTimeOffset? From, DateTimeOffset? To);

/// <param name="Address">The address of the request that made the change (behind a known proxy, the one it forwarded); null for background work and entries from before it was recorded.</param>
public sealed record AuditRow(long Id, DateTime At, long? ActorUserId, string? ActorEmail, long? OrganizationId, string Action, string? Subject, string? Details, string? Address);

/// <summary>Who did what, when, from where. Written in the same transaction as the change it records.</summary>
public sealed class AuditRepository(NpgsqlDataSource db)
{
    /// <summary>Records a change; where it came from is the address of the request being served (<see cref="AuditCaller"/>).</summary>
    public static Task WriteAsync(IDbConnection connection, IDbTransaction tx, long? actor, long? organizationId, string action, string? subject, string? details = null) =>
        connection.ExecuteAsync("""
            INSERT INTO audit_event (actor_user_id, organization_id, action, subject, details, address)
            VALUES (@actor, @organizationId, @action, @subject, @details, @address)
            """, new { actor, organizationId, action, subject, details, address = AuditCaller.Address }, tx);

    /// <summary>
    /// The organization's audit entries, or the server's own (those of no organization: sign-ins, users, server
    /// settings, the license) when <paramref name="organizationId"/> is null; newest first, filtered; each filter matches literally.
    /// </summary>
    public async Task<(IReadOnlyList<AuditRow> Rows, long Total)> SearchAsync(long? organizationId, AuditFilter filter, int offset, int limit)
    {
        var args = new
        {
            organizationId,
            action = filter.ActionPrefix is { Length: > 0 } a ? Accounts.Like.Escape(a) + "%" : "%",
            actor = "%" + Accounts.Like.Escape((filter.Actor ?? "").Trim().ToLowerInvariant()) + "%",
            subject = "%" + Accounts.Like.Escape((filter.Subject ?? "").Trim().ToLowerInvariant()) + "%",
            from = filter.From?.UtcDateTime ?? DateTime.MinValue.AddYears(1),
            to = filter.To?.UtcDateTime ?? DateTime.MaxValue.AddYears(-1),
            offset,
            limit,
        };
        var where = $$"""
            FROM audit_event a LEFT JOIN public.user_account u ON u.id = a.actor_user_id
            WHERE {{(organizationId is null ? "a.organization_id IS NULL" : "a.organization_id = @organizationId")}} AND a.action LIKE @action ESCAPE '\'
              AND lower(coalesce(u.email, '')) LIKE @actor ESCAPE '\' AND lower(coalesce(a.subject, '')) LIKE @subject ESCAPE '\'
              AND a.at >= @from AND a.at < @to
            """;
        await using var connection = await db.OpenConnectionAsync();
        var total = await connection.ExecuteScalarAsync<long>("SELECT count(*) " + where, args);
        var rows = await connection.QueryAsync<AuditRow>(
            "SELECT a.id, a.at, a.actor_user_id, u.email AS actor_email, a.organization_id, a.action, a.subject, a.details, a.address " + where +
            " ORDER BY a.id DESC OFFSET @offset LIMIT @limit", args);
        return (rows.AsList(), total);
    }

    /// <summary>Records an event that changes nothing else (a sign-in), in a transaction of its own.</summary>
    public async Task RecordAsync(long? actor, string action, string? subject, string? details = null)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await WriteAsync(connection, tx, actor, null, action, subject, details);
        await tx.CommitAsync();
    }

    public async Task<IReadOnlyList<AuditRow>> ListAsync(long organizationId, int limit = 200)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<AuditRow>("""
            SELECT a.id, a.at, a.actor_user_id, u.email AS actor_email, a.organization_id, a.action, a.subject, a.details, a.address
            FROM audit_event a LEFT JOIN public.user_account u ON u.id = a.actor_user_id
            WHERE a.organization_id = @organizationId
            ORDER BY a.id DESC LIMIT @limit
            """, new { organizationId, limit })).AsList();
    }

    /// <summary>The server-wide license actions (uploads, deletions, server-wide limits), newest first.</summary>
    public Task<IReadOnlyList<AuditRow>> ServerLicenseHistoryAsync(int limit = 50) => ServerHistoryAsync("license.", limit);

    /// <summary>
    /// The server-wide actions whose name starts with <paramref name="prefix"/> (those of no organization: the
    /// server's license, its settings, offline plugins), newest first.
    /// </summary>
    public async Task<IReadOnlyList<AuditRow>> ServerHistoryAsync(string prefix, int limit = 50)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<AuditRow>("""
            SELECT a.id, a.at, a.actor_user_id, u.email AS actor_email, a.organization_id, a.action, a.subject, a.details, a.address
            FROM audit_event a LEFT JOIN public.user_account u ON u.id = a.actor_user_id
            WHERE a.organization_id IS NULL AND a.action LIKE @pattern ESCAPE '\'
            ORDER BY a.id DESC LIMIT @limit
            """, new { pattern = Accounts.Like.Escape(prefix) + "%", limit })).AsList();
    }
}
