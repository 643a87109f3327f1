using Dapper;
using Npgsql;

namespace LicenseServer.Data.Accounts;

public sealed record PasswordResetRow(long Id, long UserId, string Email, DateTime ExpiresAt, DateTime? UsedAt);

public enum ResetOutcome { Done, Used, Expired, Unknown }

/// <summary>Single-use, expiring reset links, stored as hashes.</summary>
public sealed class PasswordResetRepository(NpgsqlDataSource db)
{
    public async Task CreateAsync(long userId, byte[] tokenHash, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO password_reset (user_id, token_hash, created_at, expires_at) VALUES (@userId, @tokenHash, @now, @expiresAt)
            """, new { userId, tokenHash, now = now.UtcDateTime, expiresAt = expiresAt.UtcDateTime });
    }

    public async Task<PasswordResetRow?> FindAsync(byte[] tokenHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<PasswordResetRow>("""
            SELECT r.id, r.user_id, u.email, r.expires_at, r.used_at FROM password_reset r JOIN public.user_account u ON u.id = r.user_id
            WHERE r.token_hash = @tokenHash
            """, new { tokenHash });
    }

    /// <summary>Uses the link once: sets the password, ends the user's sessions, and spends every other open link of the user.</summary>
    public async Task<(ResetOutcome Outcome, long? UserId)> UseAsync(byte[] tokenHash, string passwordHash, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(long Id, long UserId, DateTime ExpiresAt, DateTime? UsedAt)?>(
            "SELECT id, user_id, expires_at, used_at FROM password_reset WHERE token_hash = @tokenHash FOR UPDATE", new { tokenHash }, tx);
        if (row is not { } reset) return (ResetOutcome.Unknown, null);
        if (reset.UsedAt is not null) return (ResetOutcome.Used, null);
        if (reset.ExpiresAt <= now.UtcDateTime) return (ResetOutcome.Expired, null);
        await connection.ExecuteAsync("""
            UPDATE password_reset SET used_at = @now WHERE user_id = @UserId AND used_at IS NULL;
            UPDATE public.user_account SET password = @passwordHash, password_encrypted = true, must_change_password = false,
                security_stamp = gen_random_uuid(), password_changed_at = @now
            WHERE id = @UserId;
            """, new { reset.UserId, passwordHash, now = now.UtcDateTime }, tx);
        await tx.CommitAsync();
        return (ResetOutcome.Done, reset.UserId);
    }
}
