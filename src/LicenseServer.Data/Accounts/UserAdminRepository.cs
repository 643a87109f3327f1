using Dapper;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Organizations;
using Npgsql;

namespace LicenseServer.Data.Accounts;

public sealed record UserListRow(long Id, string Email, bool IsServerAdmin, bool Disabled, bool HasPassword, DateTime CreatedAt, long Organizations);

/// <summary>The server admin's list of every user (deleted ones left out), disabling, one-time passwords and deletion.</summary>
public sealed class UserAdminRepository(NpgsqlDataSource db)
{
    /// <summary>The sorts of All users, by key ("email", or "-email" for descending): SQL written here, never taken from a request.</summary>
    public static readonly IReadOnlyDictionary<string, string> Sorts = new Dictionary<string, string>
    {
        ["email"] = "lower(u.email)", ["created"] = "u.created_at", ["organizations"] = "organizations",
    };

    public async Task<(IReadOnlyList<UserListRow> Rows, long Total)> SearchAsync(string? query, int page, int pageSize, string sort = "email")
    {
        var descending = sort.StartsWith('-');
        var order = Sorts.TryGetValue(sort.TrimStart('-'), out var column) ? column : Sorts["email"];
        var pattern = "%" + Like.Escape((query ?? "").Trim().ToLowerInvariant()) + "%";
        await using var connection = await db.OpenConnectionAsync();
        var total = await connection.ExecuteScalarAsync<long>(
            @"SELECT count(*) FROM public.user_account WHERE lower(email) LIKE @pattern ESCAPE '\' AND deleted_at IS NULL", new { pattern });
        var rows = await connection.QueryAsync<UserListRow>($"""
            SELECT u.id, u.email, u.is_server_admin, u.disabled, (u.password IS NOT NULL AND u.password <> '') AS has_password, u.created_at,
                   (SELECT count(*) FROM organization_member m WHERE m.user_id = u.id) AS organizations
            FROM public.user_account u
            WHERE lower(u.email) LIKE @pattern ESCAPE '\' AND u.deleted_at IS NULL
            ORDER BY {order} {(descending ? "DESC" : "ASC")}, u.id
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
            WHERE id = @userId AND deleted_at IS NULL RETURNING email
            """, new { userId, hash }, tx);
        if (email is null) return null;
        await AuditRepository.WriteAsync(connection, tx, actor, null, "user.one_time_password_set", email);
        await tx.CommitAsync();
        return email;
    }

    /// <summary>
    /// Deletes a user: removed from each of their organizations by the rules of removing a member (their licenses
    /// recalled, sessions ended, machines deactivated, API keys revoked, teams left, each audited in that organization),
    /// their open invitations revoked and reset links dropped, then the account disabled without a password, renamed
    /// "&lt;email&gt; (deleted user &lt;id&gt;)" (with a space, which no email accepted anywhere holds, so it is never
    /// invited, signed into or taken) and marked deleted; its new security stamp ends its sessions and client tokens.
    /// Refused for the default account, and while they are the only Owner of an organization. Locks: the
    /// organizations' rows in id order, then the user's row FOR NO KEY UPDATE (what a grant's, activation's or
    /// checkout's foreign key check takes on it does not conflict), then the member rows, as a member's removal does.
    /// Its links to directory entries go, so a later sign-in of that person makes a new account.
    /// </summary>
    public async Task<(UserDeletion Result, string? Detail)> DeleteAsync(long userId, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var organizations = (await connection.QueryAsync<long>("""
            SELECT o.id FROM organization o WHERE o.id IN (SELECT organization_id FROM organization_member WHERE user_id = @userId)
            ORDER BY o.id FOR NO KEY UPDATE
            """, new { userId }, tx)).ToList();
        var user = await connection.QuerySingleOrDefaultAsync<(string Email, bool IsDefault)?>("""
            SELECT email, is_default_account FROM public.user_account WHERE id = @userId AND deleted_at IS NULL FOR NO KEY UPDATE
            """, new { userId }, tx);
        if (user is not var (email, isDefault)) return (UserDeletion.NoSuchUser, null);
        if (isDefault) return (UserDeletion.DefaultAccount, email);
        var memberships = (await connection.QueryAsync<(long OrganizationId, string Name, string Role)>("""
            SELECT m.organization_id, o.name, m.role FROM organization_member m JOIN organization o ON o.id = m.organization_id
            WHERE m.user_id = @userId ORDER BY m.organization_id FOR UPDATE OF m
            """, new { userId }, tx)).ToList();
        foreach (var (organizationId, name, roleText) in memberships)
        {
            var role = RolePolicy.Parse(roleText);
            if (role == OrgRole.Owner && await MemberRepository.OwnersAsync(connection, tx, organizationId) <= 1) return (UserDeletion.LastOwner, name);
            await MemberRepository.RemoveInAsync(connection, tx, organizationId, userId, email, role, actor, "user deleted");
        }
        await connection.ExecuteAsync("""
            UPDATE invitation SET revoked_at = now() WHERE user_id = @userId AND accepted_at IS NULL AND revoked_at IS NULL;
            DELETE FROM password_reset WHERE user_id = @userId;
            UPDATE public.user_account SET email = email || ' (deleted user ' || id || ')', password = NULL, disabled = true, must_change_password = false,
                is_server_admin = false, security_stamp = gen_random_uuid(), deleted_at = now()
            WHERE id = @userId;
            DELETE FROM directory_link WHERE user_id = @userId;
            """, new { userId }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, null, "user.deleted", email,
            $"removed from {memberships.Count} organization{(memberships.Count == 1 ? "" : "s")}");
        await tx.CommitAsync();
        return (UserDeletion.Deleted, email);
    }

    /// <summary>
    /// Disabling also renews the security stamp, which ends the user's sessions at once. Either way the account is the
    /// admin's decision from now on: a sign-in through the directory no longer enables it.
    /// </summary>
    public async Task<bool> SetDisabledAsync(long userId, bool disabled, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var email = await connection.ExecuteScalarAsync<string?>("""
            UPDATE public.user_account SET disabled = @disabled, directory_disabled = false, security_stamp = gen_random_uuid()
            WHERE id = @userId AND deleted_at IS NULL RETURNING email
            """, new { userId, disabled }, tx);
        if (email is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, null, disabled ? "user.disabled" : "user.enabled", email);
        await tx.CommitAsync();
        return true;
    }
}

/// <summary>Why a user cannot be deleted (null: deleted).</summary>
public enum UserDeletion { Deleted, NoSuchUser, DefaultAccount, LastOwner }

public static class Like
{
    /// <summary>Escapes LIKE's wildcards and its escape character, so user input matches literally.</summary>
    public static string Escape(string text) => text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");
}
