using Dapper;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Organizations;
using Npgsql;

namespace LicenseServer.Data.Accounts;

/// <summary>A person as the directory ('ldap', the entry's DN) or the OpenID provider ('oidc', the subject) names them.</summary>
public sealed record DirectoryIdentity(string Source, string ExternalId, string Email, string? DisplayName);

/// <summary>A directory account due for a check against the directory.</summary>
public sealed record DirectoryAccountRow(long Id, string Email, string ExternalId);

public enum DirectorySignIn { Ready, DisabledByAdmin }

/// <summary>
/// Accounts of people who sign in through the directory or the OpenID provider: made at their first sign-in, linked to
/// an existing account with the same email, given organizations by group mappings, and disabled when the directory
/// no longer knows them.
/// </summary>
public sealed class DirectoryAccountRepository(NpgsqlDataSource db)
{
    /// <summary>
    /// The account of a person the directory or provider has just vouched for. Found by its link, else by email (a
    /// local account becomes linked; the directory is the server admin's choice of who is who), else made. An account
    /// an admin disabled stays disabled (the caller audits the refusal); one the directory disabled is enabled again. The
    /// sign-in is audited with its source (<paramref name="via"/>).
    /// </summary>
    public async Task<(DirectorySignIn Outcome, long UserId)> SignInAsync(DirectoryIdentity identity, string via)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var found = await connection.QuerySingleOrDefaultAsync<(long Id, string Source, bool Disabled, bool DirectoryDisabled)?>("""
            SELECT id, source, disabled, directory_disabled FROM public.user_account
            WHERE deleted_at IS NULL AND ((source = @Source AND external_id = @ExternalId) OR lower(email) = lower(@Email))
            ORDER BY (source = @Source AND external_id = @ExternalId) DESC LIMIT 1
            FOR NO KEY UPDATE
            """, identity, tx);
        long userId;
        if (found is not { } account)
        {
            userId = await connection.ExecuteScalarAsync<long>("""
                INSERT INTO public.user_account (email, password, password_encrypted, source, external_id, display_name)
                VALUES (lower(@Email), NULL, true, @Source, @ExternalId, @DisplayName)
                RETURNING id
                """, identity, tx);
            await AuditRepository.WriteAsync(connection, tx, userId, null, "user.created", identity.Email.ToLowerInvariant(), $"at the first sign-in {via}");
        }
        else
        {
            userId = account.Id;
            if (account.Disabled && !account.DirectoryDisabled) return (DirectorySignIn.DisabledByAdmin, userId);
            // A local account takes the link; one of the same source follows its entry (a renamed or moved DN). An
            // account of the other source keeps its own link: it is the same person, matched by email.
            await connection.ExecuteAsync("""
                UPDATE public.user_account SET
                    source = CASE WHEN source IN ('local', @Source) THEN @Source ELSE source END,
                    external_id = CASE WHEN source IN ('local', @Source) THEN @ExternalId ELSE external_id END,
                    disabled = CASE WHEN directory_disabled THEN false ELSE disabled END,
                    directory_disabled = false
                WHERE id = @userId
                """, new { identity.Source, identity.ExternalId, userId }, tx);
            if (account.DirectoryDisabled)
                await AuditRepository.WriteAsync(connection, tx, null, null, "user.enabled", identity.Email.ToLowerInvariant(), $"by the directory ({via})");
        }
        await connection.ExecuteAsync("""
            UPDATE public.user_account SET display_name = coalesce(@DisplayName, display_name), directory_signed_in_at = now(), directory_checked_at = now()
            WHERE id = @userId
            """, new { identity.DisplayName, userId }, tx);
        await AuditRepository.WriteAsync(connection, tx, userId, null, "account.signed_in", identity.Email.ToLowerInvariant(), via);
        await tx.CommitAsync();
        return (DirectorySignIn.Ready, userId);
    }

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
        // Locks as a member's removal takes them: the organizations in id order, then the member rows.
        await connection.ExecuteAsync("SELECT 1 FROM organization WHERE id = ANY(@organizations) ORDER BY id FOR NO KEY UPDATE", new { organizations }, tx);
        var email = await connection.ExecuteScalarAsync<string>("SELECT email FROM public.user_account WHERE id = @userId", new { userId }, tx) ?? "";
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
    /// LDAP accounts to check again: enabled, not checked within <paramref name="interval"/>, and able to act: holding a
    /// live token or API key, or signed in within a console session's lifetime.
    /// </summary>
    public async Task<IReadOnlyList<DirectoryAccountRow>> DueForCheckAsync(TimeSpan interval, TimeSpan sessionLifetime, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<DirectoryAccountRow>("""
            SELECT u.id, u.email, u.external_id FROM public.user_account u
            WHERE u.source = 'ldap' AND u.external_id IS NOT NULL AND NOT u.disabled AND u.deleted_at IS NULL
              AND (u.directory_checked_at IS NULL OR u.directory_checked_at < now() - @interval)
              AND (u.directory_signed_in_at > now() - @sessionLifetime
                   OR EXISTS (SELECT 1 FROM api_token t WHERE t.user_id = u.id AND t.expires_at > now() AND t.revoked_at IS NULL AND t.security_stamp = u.security_stamp)
                   OR EXISTS (SELECT 1 FROM api_key k WHERE k.user_id = u.id AND k.revoked_at IS NULL))
            ORDER BY u.directory_checked_at NULLS FIRST
            LIMIT @limit
            """, new { interval, sessionLifetime, limit })).ToList();
    }

    public async Task MarkCheckedAsync(long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE public.user_account SET directory_checked_at = now() WHERE id = @userId", new { userId });
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
