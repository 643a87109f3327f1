using Dapper;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>Who a bearer token or an API key stands for. <c>OrganizationId</c> is set for an API key only.</summary>
public sealed record ClientCaller(long UserId, string Email, long? OrganizationId, long? ApiKeyId);

/// <summary>The client API's callers: bearer tokens and API keys.</summary>
public sealed class ClientRepository(NpgsqlDataSource db, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task CreateTokenAsync(long userId, Guid securityStamp, byte[] tokenHash, DateTimeOffset expiresAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO api_token (user_id, token_hash, security_stamp, created_at, expires_at) VALUES (@userId, @tokenHash, @securityStamp, @now, @expiresAt)
            """, new { userId, tokenHash, securityStamp, now = Now, expiresAt = expiresAt.UtcDateTime });
    }

    /// <summary>A live token of an enabled user whose stamp has not changed since.</summary>
    public async Task<ClientCaller?> FindByTokenAsync(byte[] tokenHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<ClientCaller>("""
            SELECT u.id AS user_id, u.email, NULL::bigint AS organization_id, NULL::bigint AS api_key_id
            FROM api_token t JOIN public.user_account u ON u.id = t.user_id
            WHERE t.token_hash = @tokenHash AND t.revoked_at IS NULL AND t.expires_at > @now
              AND NOT u.disabled AND u.security_stamp = t.security_stamp
            """, new { tokenHash, now = Now });
    }

    public async Task RevokeTokenAsync(byte[] tokenHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE api_token SET revoked_at = @now WHERE token_hash = @tokenHash AND revoked_at IS NULL", new { tokenHash, now = Now });
    }

    /// <summary>
    /// An API key's caller and why it may not act (<c>kit_api_key_caller</c>: <c>api_key_revoked</c>, <c>not_a_member</c>),
    /// or a null refusal when it may; null for a key the server does not know. Last use is written at most once a
    /// minute, and only for a key that may act.
    /// </summary>
    public async Task<(ClientCaller Caller, string? Refusal)?> FindByApiKeyAsync(byte[] keyHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(long KeyId, long UserId, string Email, long OrganizationId, DateTime? LastUsed, string? Refusal)?>(
            "SELECT key_id, user_id, email, organization_id, last_used_at, refusal FROM kit_api_key_caller(@keyHash)", new { keyHash });
        if (row is not { } key) return null;
        if (key.Refusal is null && (key.LastUsed is null || key.LastUsed < Now.AddMinutes(-1)))
            await connection.ExecuteAsync("UPDATE api_key SET last_used_at = @now WHERE id = @KeyId", new { key.KeyId, now = Now });
        return (new ClientCaller(key.UserId, key.Email, key.OrganizationId, key.KeyId), key.Refusal);
    }

    /// <summary>
    /// Sent before a statement of its own (in the implicit transaction of their round trip): its commit does
    /// not wait for PostgreSQL to flush it to disk, which costs a checkout-and-release cycle about a quarter
    /// of its time on the bench machine. Only for writes that a database crash may lose without harm: a
    /// lost release or heartbeat leaves a session holding its seat a little longer, until its lease
    /// expires; it never hands out a seat. Seats taken and leases signed are always flushed first.
    /// </summary>
    public const string AsynchronousCommit = "SET LOCAL synchronous_commit = off;";
}
