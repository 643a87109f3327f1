using Dapper;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Organizations;

public sealed record MemberRow(long UserId, string Email, string Role, bool CanManageLicenses, DateTime JoinedAt, bool Disabled);

public enum MemberChange { Done, NotAMember, LastOwner, NotAllowed }

/// <summary>
/// Membership changes. Each locks its organization's row first, so concurrent changes are
/// serialised and the last-Owner rule cannot be raced past.
/// </summary>
public sealed class MemberRepository(NpgsqlDataSource db)
{
    private static readonly PagedList Members = new(
        "SELECT m.user_id, u.email, m.role, m.can_manage_licenses, m.joined_at, u.disabled",
        "FROM organization_member m JOIN public.user_account u ON u.id = m.user_id WHERE m.organization_id = @organizationId",
        new Dictionary<string, string>
        {
            ["email"] = "lower(u.email)", ["role"] = "CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END", ["joined"] = "m.joined_at",
        },
        "role", "lower(u.email), m.user_id", "u.email");

    /// <summary>A page of the members, Owners first by default.</summary>
    public async Task<ListPage<MemberRow>> PageAsync(long organizationId, ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await Members.ReadAsync<MemberRow>(connection, query, new { organizationId });
    }

    /// <summary>One member of the organization; null for anyone who is not.</summary>
    public async Task<MemberRow?> GetAsync(long organizationId, long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<MemberRow>("""
            SELECT m.user_id, u.email, m.role, m.can_manage_licenses, m.joined_at, u.disabled
            FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND m.user_id = @userId
            """, new { organizationId, userId });
    }

    public async Task<IReadOnlyList<MemberRow>> ListAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<MemberRow>("""
            SELECT m.user_id, u.email, m.role, m.can_manage_licenses, m.joined_at, u.disabled
            FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId
            ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.email
            """, new { organizationId })).AsList();
    }

    /// <summary>Looks up emails for this organization: each one's user id, or null when no account has it, and whether it is a member.</summary>
    public async Task<IReadOnlyDictionary<string, (long? UserId, bool Member)>> LookupAsync(long organizationId, IReadOnlyList<string> emails)
    {
        await using var connection = await db.OpenConnectionAsync();
        var found = (await connection.QueryAsync<(string Email, long UserId, bool Member)>("""
            SELECT lower(u.email), u.id, EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = @organizationId AND m.user_id = u.id)
            FROM public.user_account u WHERE lower(u.email) = ANY(@emails)
            """, new { organizationId, emails = emails.Select(e => e.ToLowerInvariant()).ToArray() })).ToDictionary(r => r.Email);
        return emails.ToDictionary(e => e, e => found.TryGetValue(e.ToLowerInvariant(), out var r) ? ((long?)r.UserId, r.Member) : ((long?)null, false));
    }

    public Task<MemberChange> ChangeRoleAsync(long organizationId, long userId, OrgRole to, Membership actor) =>
        ChangeAsync(organizationId, userId, async (connection, tx, from, email) =>
        {
            if (!RolePolicy.CanChangeRole(actor.Role, from, to)) return MemberChange.NotAllowed;
            if (from == OrgRole.Owner && to != OrgRole.Owner && await OwnersAsync(connection, tx, organizationId) <= 1) return MemberChange.LastOwner;
            await connection.ExecuteAsync(
                "UPDATE organization_member SET role = @role WHERE organization_id = @organizationId AND user_id = @userId",
                new { organizationId, userId, role = RolePolicy.ToText(to) }, tx);
            await AuditRepository.WriteAsync(connection, tx, actor.UserId, organizationId, "member.role_changed", email,
                $"{RolePolicy.ToText(from)} -> {RolePolicy.ToText(to)}");
            return MemberChange.Done;
        });

    public Task<MemberChange> SetLicensePermissionAsync(long organizationId, long userId, bool allowed, Membership actor) =>
        ChangeAsync(organizationId, userId, async (connection, tx, _, email) =>
        {
            await connection.ExecuteAsync(
                "UPDATE organization_member SET can_manage_licenses = @allowed WHERE organization_id = @organizationId AND user_id = @userId",
                new { organizationId, userId, allowed }, tx);
            await AuditRepository.WriteAsync(connection, tx, actor.UserId, organizationId,
                allowed ? "member.license_permission_granted" : "member.license_permission_revoked", email);
            return MemberChange.Done;
        });

    public Task<MemberChange> RemoveAsync(long organizationId, long userId, Membership actor) =>
        ChangeAsync(organizationId, userId, async (connection, tx, role, email) =>
        {
            if (role == OrgRole.Owner && actor.Role != OrgRole.Owner) return MemberChange.NotAllowed;
            if (role == OrgRole.Owner && await OwnersAsync(connection, tx, organizationId) <= 1) return MemberChange.LastOwner;
            await RemoveInAsync(connection, tx, organizationId, userId, email, role, actor.UserId, "member removed");
            return MemberChange.Done;
        });

    /// <summary>
    /// What removing a member takes with them, inside the caller's transaction (which holds the organization's row and
    /// the member's): their licenses of both kinds, sessions, machines, API keys and teams, then the membership; each
    /// recalled license and the removal audited, <paramref name="why"/> in the licenses' entries. Also a user's deletion.
    /// </summary>
    internal static async Task RemoveInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, long userId, string email, OrgRole role,
        long actor, string why)
    {
        var recalled = (await connection.QueryAsync<string>("""
            WITH per_user AS (DELETE FROM license_assignment WHERE organization_id = @organizationId AND user_id = @userId RETURNING product_code),
                 floating AS (DELETE FROM floating_assignment WHERE organization_id = @organizationId AND user_id = @userId RETURNING product_code)
            SELECT product_code FROM per_user UNION ALL SELECT product_code FROM floating
            """, new { organizationId, userId }, tx)).Order().ToList();
        await connection.ExecuteAsync("""
            UPDATE api_key SET revoked_at = now() WHERE organization_id = @organizationId AND user_id = @userId AND revoked_at IS NULL;
            UPDATE floating_session SET ended_at = now() WHERE organization_id = @organizationId AND user_id = @userId AND ended_at IS NULL;
            UPDATE machine_activation SET deactivated_at = now() WHERE organization_id = @organizationId AND user_id = @userId AND deactivated_at IS NULL;
            DELETE FROM team_member WHERE user_id = @userId AND team_id IN (SELECT id FROM team WHERE organization_id = @organizationId);
            DELETE FROM organization_member WHERE organization_id = @organizationId AND user_id = @userId;
            """, new { organizationId, userId }, tx);
        foreach (var product in recalled)
            await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.unassigned", email, $"{product} ({why})");
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "member.removed", email, $"was {RolePolicy.ToText(role)}");
    }

    private delegate Task<MemberChange> Change(NpgsqlConnection connection, NpgsqlTransaction tx, OrgRole current, string email);

    private async Task<MemberChange> ChangeAsync(long organizationId, long userId, Change change)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SELECT 1 FROM organization WHERE id = @organizationId FOR NO KEY UPDATE", new { organizationId }, tx);
        // The member row is locked: a license grant holds it FOR SHARE, so a removal waits for a grant in
        // flight (and then takes its license back) or the grant finds the member gone.
        var target = await connection.QuerySingleOrDefaultAsync<(string Role, string Email)?>("""
            SELECT m.role, u.email FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND m.user_id = @userId FOR UPDATE OF m
            """, new { organizationId, userId }, tx);
        if (target is null) return MemberChange.NotAMember;
        var result = await change(connection, tx, RolePolicy.Parse(target.Value.Role), target.Value.Email);
        if (result == MemberChange.Done) await tx.CommitAsync();
        return result;
    }

    internal static Task<long> OwnersAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId) =>
        connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM organization_member WHERE organization_id = @organizationId AND role = 'owner'", new { organizationId }, tx);
}
