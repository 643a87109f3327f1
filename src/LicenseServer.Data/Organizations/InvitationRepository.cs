using Dapper;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Organizations;

public sealed record InvitationRow(long Id, long OrganizationId, string OrganizationName, string Email, long UserId, bool UserHasPassword,
    string? InvitedByEmail, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? AcceptedAt, DateTimeOffset? RevokedAt);

public sealed record NewInvitation(string Email, string Token);

public enum AcceptOutcome { Accepted, NotOpen, PasswordAlreadySet, NoPassword }

/// <summary>Invitations. Secrets are stored as hashes; the callers hash and make them.</summary>
public sealed class InvitationRepository(NpgsqlDataSource db)
{
    private const string Select = """
        SELECT i.id, i.organization_id, o.name AS organization_name, i.email, i.user_id,
               (u.password IS NOT NULL AND u.password <> '') AS user_has_password, inviter.email AS invited_by_email,
               i.created_at, i.expires_at, i.accepted_at, i.revoked_at
        FROM invitation i
        JOIN organization o ON o.id = i.organization_id
        JOIN public.user_account u ON u.id = i.user_id
        LEFT JOIN public.user_account inviter ON inviter.id = i.invited_by
        """;

    /// <summary>
    /// Invites every email or none. Problems (already a member, already invited and not expired) are
    /// returned and nothing is stored. An email without an account gets one with no password, which
    /// the invitation lets its owner set. An expired open invitation is renewed in place.
    /// </summary>
    public async Task<(IReadOnlyList<string> Problems, bool Done)> CreateAsync(long organizationId, IReadOnlyList<(string Email, byte[] TokenHash)> invitations,
        long invitedBy, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SELECT 1 FROM organization WHERE id = @organizationId FOR NO KEY UPDATE", new { organizationId }, tx);
        var problems = new List<string>();
        foreach (var (email, tokenHash) in invitations)
        {
            var member = await connection.ExecuteScalarAsync<bool>("""
                SELECT EXISTS (SELECT 1 FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
                               WHERE m.organization_id = @organizationId AND lower(u.email) = @email)
                """, new { organizationId, email }, tx);
            if (member) { problems.Add($"{email} is already a member of this organization."); continue; }
            var open = await connection.QuerySingleOrDefaultAsync<(long Id, DateTime ExpiresAt)?>("""
                SELECT id, expires_at FROM invitation
                WHERE organization_id = @organizationId AND lower(email) = @email AND accepted_at IS NULL AND revoked_at IS NULL
                """, new { organizationId, email }, tx);
            if (open is { } existing && existing.ExpiresAt > now.UtcDateTime)
            {
                problems.Add($"{email} has been invited already; resend or revoke that invitation instead.");
                continue;
            }
            // Another organization may invite the same new email at the same moment: the unique index decides.
            await connection.ExecuteAsync("""
                INSERT INTO public.user_account (email, password, password_encrypted) VALUES (@email, NULL, true)
                ON CONFLICT ((lower(email))) DO NOTHING
                """, new { email }, tx);
            var userId = await connection.ExecuteScalarAsync<long>(
                "SELECT id FROM public.user_account WHERE lower(email) = @email", new { email }, tx);
            if (open is { } expired)
                await connection.ExecuteAsync("""
                    UPDATE invitation SET token_hash = @tokenHash, invited_by = @invitedBy, created_at = @now, expires_at = @expiresAt
                    WHERE id = @id
                    """, new { id = expired.Id, tokenHash, invitedBy, now = now.UtcDateTime, expiresAt = expiresAt.UtcDateTime }, tx);
            else
                await connection.ExecuteAsync("""
                    INSERT INTO invitation (organization_id, email, user_id, token_hash, invited_by, created_at, expires_at)
                    VALUES (@organizationId, @email, @userId, @tokenHash, @invitedBy, @now, @expiresAt)
                    """, new { organizationId, email, userId, tokenHash, invitedBy, now = now.UtcDateTime, expiresAt = expiresAt.UtcDateTime }, tx);
            await AuditRepository.WriteAsync(connection, tx, invitedBy, organizationId, "invitation.created", email);
        }
        if (problems.Count > 0) return (problems, false);
        await tx.CommitAsync();
        return ([], true);
    }

    private static readonly PagedList Pending = new(
        Select[..Select.IndexOf("FROM invitation", StringComparison.Ordinal)],
        Select[Select.IndexOf("FROM invitation", StringComparison.Ordinal)..] + " WHERE i.organization_id = @organizationId",
        new Dictionary<string, string> { ["email"] = "lower(i.email)", ["created"] = "i.created_at", ["expires"] = "i.expires_at" }, "-created", "i.id DESC", "i.email");

    public async Task<ListPage<InvitationRow>> ListAsync(long organizationId, ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await Pending.ReadAsync<InvitationRow>(connection, query, new { organizationId });
    }

    public async Task<InvitationRow?> FindAsync(long organizationId, long invitationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<InvitationRow>(
            Select + " WHERE i.organization_id = @organizationId AND i.id = @invitationId", new { organizationId, invitationId });
    }

    public async Task<InvitationRow?> FindByTokenAsync(byte[] tokenHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<InvitationRow>(Select + " WHERE i.token_hash = @tokenHash", new { tokenHash });
    }

    /// <summary>Resend: a new secret and a new expiry for an invitation that is not accepted or revoked; the old link stops working.</summary>
    public async Task<bool> RenewAsync(long organizationId, long invitationId, byte[] tokenHash, long actor, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var email = await connection.ExecuteScalarAsync<string?>("""
            UPDATE invitation SET token_hash = @tokenHash, created_at = @now, expires_at = @expiresAt, invited_by = @actor
            WHERE organization_id = @organizationId AND id = @invitationId AND accepted_at IS NULL AND revoked_at IS NULL
            RETURNING email
            """, new { organizationId, invitationId, tokenHash, actor, now = now.UtcDateTime, expiresAt = expiresAt.UtcDateTime }, tx);
        if (email is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "invitation.resent", email);
        await tx.CommitAsync();
        return true;
    }

    public async Task<bool> RevokeAsync(long organizationId, long invitationId, long actor, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var email = await connection.ExecuteScalarAsync<string?>("""
            UPDATE invitation SET revoked_at = @now
            WHERE organization_id = @organizationId AND id = @invitationId AND accepted_at IS NULL AND revoked_at IS NULL
            RETURNING email
            """, new { organizationId, invitationId, now = now.UtcDateTime }, tx);
        if (email is null) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "invitation.revoked", email);
        await tx.CommitAsync();
        return true;
    }

    /// <summary>
    /// Accepts an open, unexpired invitation: sets the password first when <paramref name="passwordHash"/>
    /// is given (only for an account that has none), then adds the member. All or nothing; single use.
    /// </summary>
    public async Task<AcceptOutcome> AcceptAsync(long invitationId, string? passwordHash, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(long OrganizationId, long UserId, string Email, string? Password)?>("""
            SELECT i.organization_id, i.user_id, i.email, u.password FROM invitation i JOIN public.user_account u ON u.id = i.user_id
            WHERE i.id = @invitationId AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > @now
            FOR UPDATE OF i, u
            """, new { invitationId, now = now.UtcDateTime }, tx);
        if (row is not { } invitation) return AcceptOutcome.NotOpen;
        var hasPassword = !string.IsNullOrEmpty(invitation.Password);
        if (passwordHash is not null)
        {
            if (hasPassword) return AcceptOutcome.PasswordAlreadySet;
            await connection.ExecuteAsync("""
                UPDATE public.user_account SET password = @passwordHash, password_encrypted = true, password_changed_at = now(),
                    security_stamp = gen_random_uuid()
                WHERE id = @userId
                """, new { passwordHash, invitation.UserId }, tx);
        }
        else if (!hasPassword) return AcceptOutcome.NoPassword;
        await connection.ExecuteAsync("""
            INSERT INTO organization_member (organization_id, user_id, role) VALUES (@OrganizationId, @UserId, 'member')
            ON CONFLICT DO NOTHING
            """, new { invitation.OrganizationId, invitation.UserId }, tx);
        await connection.ExecuteAsync("UPDATE invitation SET accepted_at = @now WHERE id = @invitationId", new { invitationId, now = now.UtcDateTime }, tx);
        await AuditRepository.WriteAsync(connection, tx, invitation.UserId, invitation.OrganizationId, "invitation.accepted", invitation.Email);
        await AuditRepository.WriteAsync(connection, tx, invitation.UserId, invitation.OrganizationId, "member.added", invitation.Email, "role member (invitation)");
        await tx.CommitAsync();
        return AcceptOutcome.Accepted;
    }
}
