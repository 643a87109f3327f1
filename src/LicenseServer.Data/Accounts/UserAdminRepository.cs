using Dapper;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Accounts;

public sealed record UserListRow(long Id, string Email, bool IsServerAdmin, bool Disabled, bool HasPassword, DateTime CreatedAt, long Organizations);

/// <summary>The server admin's list of every user, and disabling.</summary>
public sealed class UserAdminRepository(NpgsqlDataSource db)
{
    public async Task<(IReadOnlyList<UserListRow> Rows, long Total)> SearchAsync(string? query, int page, int pageSize)
    {
        var pattern = "%" + Like.Escape((query ?? "").Trim().ToLowerInvariant()) + "%";
        await using var connection = await db.OpenConnectionAsync();
        var total = await connection.ExecuteScalarAsync<long>(
            @"SELECT count(*) FROM public.user_account WHERE lower(email) LIKE @pattern ESCAPE '\'", new { pattern });
        var rows = await connection.QueryAsync<UserListRow>("""
            SELECT u.id, u.email, u.is_server_admin, u.disabled, (u.password IS NOT NULL AND u.password <> '') AS has_password, u.created_at,
                   (SELECT count(*) FROM organization_member m WHERE m.user_id = u.id) AS organizations
            FROM public.user_account u
            WHERE lower(u.email) LIKE @pattern ESCAPE '\'
            ORDER BY lower(u.email), u.id
            LIMIT @pageSize OFFSET @offset
            """, new { pattern, pageSize, offset = (long)(Math.Max(page, 1) - 1) * pageSize });
        return (rows.AsList(), total);
    }

    /// <summary>
    /// A password the server admin gives a person, who must change it at their next sign-in. The new security stamp
    /// ends their sessions and client tokens; the audit says it was set, never what it is.
    /// </summary>
    public async Task<string?> SetOneTimePasswordAsync(long userId, string hash, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var email = await connection.ExecuteScalarAsync<string?>("""
            UPDATE public.user_account SET password = @hash, password_encrypted = true, must_change_password = true,
                security_stamp = gen_random_uuid(), password_changed_at = now()
            WHERE id = @userId RETURNING email
            """, new { userId, hash }, tx);
        if (email is null) return null;
        await AuditRepository.WriteAsync(connection, tx, actor, null, "user.one_time_password_set", email);
        await tx.CommitAsync();
        return email;
    }

    /// <summary>Disabling also renews the security stamp, which ends the user's sessions at once.</summary>
    public async Task<bool> SetDisabledAsync(long userId, bool disabled, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var email = await connection.ExecuteScalarAsync<string?>("""
            UPDATE public.user_account SET disabled = @disabled, security_stamp = gen_random_uuid()
            WHERE id = @userId RETURNING email
            """, new { userId, disabled }, tx);
        if (email is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, null, disabled ? "user.disabled" : "user.enabled", email);
        await tx.CommitAsync();
        return true;
    }
}

public static class Like
{
    /// <summary>Escapes LIKE's wildcards and its escape character, so user input matches literally.</summary>
    public static string Escape(string text) => text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");
}
