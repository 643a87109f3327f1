using Dapper;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Licenses;

public sealed record ApiKeyRow(long Id, string Name, string Prefix, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? RevokedAt);

/// <summary>A member's API keys in one organization; only hashes are stored.</summary>
public sealed class ApiKeyRepository(NpgsqlDataSource db)
{
    private static readonly PagedList Keys = new(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at",
        "FROM api_key WHERE organization_id = @organizationId AND user_id = @userId",
        new Dictionary<string, string> { ["name"] = "lower(name)", ["created"] = "created_at", ["used"] = "last_used_at" }, "-created", "id DESC", "name", "prefix");

    /// <summary>A page of one member's own keys in the organization, newest first unless sorted otherwise.</summary>
    public async Task<ListPage<ApiKeyRow>> PageAsync(long organizationId, long userId, ListQuery query)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await Keys.ReadAsync<ApiKeyRow>(connection, query, new { organizationId, userId });
    }

    public async Task CreateAsync(long organizationId, long userId, string name, string prefix, byte[] keyHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO api_key (organization_id, user_id, name, prefix, key_hash) VALUES (@organizationId, @userId, @name, @prefix, @keyHash)
            """, new { organizationId, userId, name, prefix, keyHash }, tx);
        await AuditRepository.WriteAsync(connection, tx, userId, organizationId, "api_key.created", name, $"kit_{prefix}_…");
        await tx.CommitAsync();
    }

    public async Task<bool> RevokeAsync(long organizationId, long userId, long keyId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var name = await connection.ExecuteScalarAsync<string?>("""
            UPDATE api_key SET revoked_at = now()
            WHERE organization_id = @organizationId AND user_id = @userId AND id = @keyId AND revoked_at IS NULL RETURNING name
            """, new { organizationId, userId, keyId }, tx);
        if (name is null) return false;
        await AuditRepository.WriteAsync(connection, tx, userId, organizationId, "api_key.revoked", name);
        await tx.CommitAsync();
        return true;
    }
}
