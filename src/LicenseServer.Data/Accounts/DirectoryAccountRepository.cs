using Dapper;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Organizations;
using Npgsql;

namespace LicenseServer.Data.Accounts;

/// <summary>
/// A person as the directory ('ldap', the entry's DN) or the OpenID provider ('oidc', "&lt;issuer&gt; &lt;subject&gt;") names
/// them, with the email it vouches for.
/// </summary>
public sealed record DirectoryIdentity(string Source, string ExternalId, string Email, string? DisplayName);

/// <summary>A directory account due for a check against the directory: its entry's DN.</summary>
public sealed record DirectoryAccountRow(long Id, string Email, string ExternalId);

/// <summary>
/// What a sign-in the directory or provider vouched for comes to: the account is ready; an admin (or, for the provider,
/// the directory) disabled it; the email is a server admin's, who signs in with their own password; or another entry
/// of the same source already signs in to the account of that email.
/// </summary>
public enum DirectorySignIn { Ready, Disabled, ServerAdmin, Conflict }

/// <summary>
/// Accounts of people who sign in through the directory or the OpenID provider: made at their first sign-in, linked to
/// an existing account with the same email, given organizations by group mappings, and disabled when the directory
/// no longer knows them.
/// </summary>
public sealed class DirectoryAccountRepository(NpgsqlDataSource db)
{
    /// <summary>
    /// The account of a person the directory or provider has just vouched for: the one their entry is linked to, else
    /// the account with their email, which becomes linked (its password of this server is cleared: it signs in through
    /// the link from now on), else a new one. Never a server admin's account by email, nor one another entry of the same
    /// source is linked to. An account an admin disabled stays disabled; one the directory disabled is enabled again by
    /// a sign-in through the directory. The sign-in is audited with its source (<paramref name="via"/>).
    /// </summary>
    public async Task<(DirectorySignIn Outcome, long UserId)> SignInAsync(DirectoryIdentity identity, string via)
    {
        var email = identity.Email.Trim().ToLowerInvariant();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var account = await LinkedAsync(connection, tx, identity);
        if (account is null)
        {
            // A first sign-in of this email made at the same moment (another tab, another node) inserts nothing here.
            if (await connection.ExecuteScalarAsync<long?>("""
                    INSERT INTO public.user_account (email, password, password_encrypted, display_name) VALUES (@email, NULL, true, @DisplayName)
                    ON CONFLICT ((lower(email))) DO NOTHING RETURNING id
                    """, new { email, identity.DisplayName }, tx) is { } created)
                await AuditRepository.WriteAsync(connection, tx, created, null, "user.created", email, $"at the first sign-in {via}");
            var byEmail = await connection.QuerySingleAsync<(long Id, bool IsServerAdmin, bool Linked)>("""
                SELECT u.id, u.is_server_admin, EXISTS (SELECT 1 FROM directory_link l WHERE l.user_id = u.id AND l.source = @Source) AS linked
                FROM public.user_account u WHERE lower(u.email) = @email AND u.deleted_at IS NULL FOR NO KEY UPDATE
                """, new { email, identity.Source }, tx);
            if (byEmail.IsServerAdmin) return (DirectorySignIn.ServerAdmin, byEmail.Id);
            if (!byEmail.Linked)
            {
                await connection.ExecuteAsync("""
                    INSERT INTO directory_link (source, external_id, user_id) VALUES (@Source, @ExternalId, @Id) ON CONFLICT DO NOTHING;
                    UPDATE public.user_account SET password = NULL, must_change_password = false WHERE id = @Id;
                    """, new { identity.Source, identity.ExternalId, byEmail.Id }, tx);
                await AuditRepository.WriteAsync(connection, tx, byEmail.Id, null, "user.linked", email, via);
            }
            account = await LinkedAsync(connection, tx, identity);
            if (account is null) return (DirectorySignIn.Conflict, byEmail.Id);
        }
        var (userId, disabled, directoryDisabled) = account.Value;
        // Only the directory enables what the directory disabled; the provider cannot overrule it, nor anyone an admin.
        if (disabled && !(directoryDisabled && identity.Source == "ldap")) return (DirectorySignIn.Disabled, userId);
        if (disabled)
            await AuditRepository.WriteAsync(connection, tx, null, null, "user.enabled", email, $"by the directory ({via})");
        await connection.ExecuteAsync("""
            UPDATE public.user_account SET disabled = false, directory_disabled = false, display_name = coalesce(@DisplayName, display_name),
                directory_signed_in_at = now(), directory_checked_at = now()
            WHERE id = @userId
            """, new { identity.DisplayName, userId }, tx);
        await AuditRepository.WriteAsync(connection, tx, userId, null, "account.signed_in", email, via);
        await tx.CommitAsync();
        return (DirectorySignIn.Ready, userId);
    }

    private static Task<(long Id, bool Disabled, bool DirectoryDisabled)?> LinkedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, DirectoryIdentity identity) =>
        connection.QuerySingleOrDefaultAsync<(long, bool, bool)?>("""
            SELECT u.id, u.disabled, u.directory_disabled FROM directory_link l JOIN public.user_account u ON u.id = l.user_id
            WHERE l.source = @Source AND l.external_id = @ExternalId AND u.deleted_at IS NULL
            FOR NO KEY UPDATE OF u
            """, identity, tx);

    /// <summary>
    /// Applies the group mappings of <paramref name="source"/> to a person in <paramref name="groups"/>: joins each mapped
    /// organization with the mapped role (admin over member where several groups map one organization), changes the role
    /// of a membership a mapping gave, and removes a person from an organization a mapping gave them once they are in
    /// none of its groups (by the rules of removing a member). Memberships from invitations are never touched.
    /// </summary>
    public async Task ApplyGroupsAsync(long userId, string source, IReadOnlyCollection<string> groups)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var lowered = groups.Select(g => g.ToLowerInvariant()).Distinct().ToArray();
        var mapped = (await connection.QueryAsync<(long OrganizationId, string Role, string GroupName)>("""
            SELECT DISTINCT ON (organization_id) organization_id, role, group_name FROM directory_group_mapping
            WHERE source = @source AND lower(group_name) = ANY(@lowered)
            ORDER BY organization_id, (role = 'admin') DESC, group_name
            """, new { source, lowered }, tx)).ToDictionary(m => m.OrganizationId);
        var fromMappings = (await connection.QueryAsync<long>(
            "SELECT organization_id FROM organization_member WHERE user_id = @userId AND directory_group IS NOT NULL", new { userId }, tx)).ToList();
        var organizations = mapped.Keys.Union(fromMappings).Order().ToArray();
        if (organizations.Length == 0) return;
        // Locks as a user's deletion takes them: the organizations in id order, then the user's row, then the member
        // rows; a user deleted or disabled meanwhile is given nothing.
        await connection.ExecuteAsync("SELECT 1 FROM organization WHERE id = ANY(@organizations) ORDER BY id FOR NO KEY UPDATE", new { organizations }, tx);
        var email = await connection.ExecuteScalarAsync<string?>(
            "SELECT email FROM public.user_account WHERE id = @userId AND deleted_at IS NULL AND NOT disabled FOR NO KEY UPDATE", new { userId }, tx);
        if (email is null) return;
        var memberships = (await connection.QueryAsync<(long OrganizationId, string Role, string? DirectoryGroup)>("""
            SELECT organization_id, role, directory_group FROM organization_member WHERE user_id = @userId AND organization_id = ANY(@organizations)
            ORDER BY organization_id FOR UPDATE
            """, new { userId, organizations }, tx)).ToDictionary(m => m.OrganizationId);
        foreach (var (organizationId, (_, role, group)) in mapped)
        {
            if (!memberships.TryGetValue(organizationId, out var member))
            {
                await connection.ExecuteAsync("""
                    INSERT INTO organization_member (organization_id, user_id, role, directory_group) VALUES (@organizationId, @userId, @role, @group)
                    """, new { organizationId, userId, role, group }, tx);
                await AuditRepository.WriteAsync(connection, tx, userId, organizationId, "member.joined", email, $"as {role}, through the directory group {group}");
            }
            else if (member.DirectoryGroup is not null && (member.Role != role || member.DirectoryGroup != group) && member.Role != "owner")
            {
                await connection.ExecuteAsync("""
                    UPDATE organization_member SET role = @role, directory_group = @group WHERE organization_id = @organizationId AND user_id = @userId
                    """, new { organizationId, userId, role, group }, tx);
                if (member.Role != role)
                    await AuditRepository.WriteAsync(connection, tx, userId, organizationId, "member.role_changed", email, $"{member.Role} → {role}, through the directory group {group}");
            }
        }
        foreach (var (organizationId, member) in memberships)
        {
            if (mapped.ContainsKey(organizationId) || member.DirectoryGroup is null || member.Role == "owner") continue;
            await MemberRepository.RemoveInAsync(connection, tx, organizationId, userId, email, RolePolicy.Parse(member.Role), userId,
                $"no longer in the directory group {member.DirectoryGroup}");
        }
        await tx.CommitAsync();
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> accounts linked to a directory entry that are due for a check: enabled, not
    /// checked within <paramref name="interval"/>, and able to act (a live token or API key, or a sign-in within a
    /// console session's lifetime). Claiming marks them checked, so that nodes checking at once share the work.
    /// </summary>
    public async Task<IReadOnlyList<DirectoryAccountRow>> ClaimDueAsync(TimeSpan interval, TimeSpan sessionLifetime, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<DirectoryAccountRow>("""
            WITH due AS (
                SELECT u.id, l.external_id FROM public.user_account u JOIN directory_link l ON l.user_id = u.id AND l.source = 'ldap'
                WHERE NOT u.disabled AND u.deleted_at IS NULL
                  AND (u.directory_checked_at IS NULL OR u.directory_checked_at < now() - @interval)
                  AND (u.directory_signed_in_at > now() - @sessionLifetime
                       OR EXISTS (SELECT 1 FROM api_token t WHERE t.user_id = u.id AND t.expires_at > now() AND t.revoked_at IS NULL AND t.security_stamp = u.security_stamp)
                       OR EXISTS (SELECT 1 FROM api_key k WHERE k.user_id = u.id AND k.revoked_at IS NULL))
                ORDER BY u.directory_checked_at NULLS FIRST
                LIMIT @limit
                FOR NO KEY UPDATE OF u SKIP LOCKED)
            UPDATE public.user_account u SET directory_checked_at = now() FROM due WHERE u.id = due.id
            RETURNING u.id, u.email, due.external_id
            """, new { interval, sessionLifetime, limit })).ToList();
    }

    /// <summary>
    /// Disables an account the directory no longer vouches for; the new security stamp ends its console sessions and
    /// tokens at once, and a disabled account's API keys are refused. A later directory sign-in enables it again.
    /// </summary>
    public async Task<bool> DisableByDirectoryAsync(long userId, string why)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var email = await connection.ExecuteScalarAsync<string?>("""
            UPDATE public.user_account SET disabled = true, directory_disabled = true, security_stamp = gen_random_uuid(), directory_checked_at = now()
            WHERE id = @userId AND NOT disabled RETURNING email
            """, new { userId }, tx);
        if (email is not null) await AuditRepository.WriteAsync(connection, tx, null, null, "user.disabled", email, $"by the directory: {why}");
        await tx.CommitAsync();
        return email is not null;
    }
}
