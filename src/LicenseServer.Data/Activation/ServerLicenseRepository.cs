using Dapper;
using LicenseServer.Core.Activation;
using Npgsql;

namespace LicenseServer.Data.Activation;

// timestamptz columns read back as UTC DateTime, which is what Npgsql returns and Dapper's constructor matching needs.
public sealed record ServerLicenseRow(Guid LicenseId, string Customer, DateTime IssuedAt, DateTime ValidFrom,
    DateTime? ValidUntil, string FileText, DateTime ActivatedAt);

public sealed record ProductRow(string Code, string Name, string Kind, int Quota, string Subscription, DateTime? ExpiresAt);

public sealed class ServerLicenseRepository(NpgsqlDataSource db)
{
    public async Task<ServerLicenseRow?> GetAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<ServerLicenseRow>("""
            SELECT license_id, customer, issued_at, valid_from, valid_until, file_text, activated_at
            FROM server_license WHERE id = 1
            """);
    }

    /// <summary>Where the one-time setup stands, in one round trip: activated, and the default account made.</summary>
    public async Task<(bool Activated, bool DefaultAccount)> SetupStateAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(bool, bool)>("""
            SELECT EXISTS (SELECT 1 FROM server_license), EXISTS (SELECT 1 FROM public.user_account WHERE is_default_account)
            """);
    }

    public async Task<IReadOnlyList<ProductRow>> ProductsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryAsync<ProductRow>(
            "SELECT code, name, kind, quota, subscription, expires_at FROM licensed_product ORDER BY code");
        return rows.AsList();
    }

    /// <summary>Makes <paramref name="payload"/> the active license with its products, all or nothing.</summary>
    public async Task ActivateAsync(LicensePayload payload, string fileText)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO server_license (id, license_id, customer, issued_at, valid_from, valid_until, file_text, activated_at)
            VALUES (1, @LicenseId, @Customer, @IssuedAt, @ValidFrom, @ValidUntil, @fileText, now())
            ON CONFLICT (id) DO UPDATE SET license_id = excluded.license_id, customer = excluded.customer,
                issued_at = excluded.issued_at, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
                file_text = excluded.file_text, activated_at = excluded.activated_at
            """, new
            {
                payload.LicenseId,
                payload.Customer,
                IssuedAt = payload.IssuedAt.ToUniversalTime(),
                ValidFrom = payload.ValidFrom.ToUniversalTime(),
                ValidUntil = payload.ValidUntil?.ToUniversalTime(),
                fileText,
            }, tx);
        await connection.ExecuteAsync("DELETE FROM licensed_product", transaction: tx);
        await connection.ExecuteAsync("""
            INSERT INTO licensed_product (code, name, kind, quota, subscription, expires_at)
            VALUES (@Code, @Name, @Kind, @Quota, @Subscription, @ExpiresAt)
            """, payload.Products.Select(p => new
            {
                p.Code,
                p.Name,
                Kind = p.Kind == ProductKind.PerUser ? "per-user" : "floating",
                p.Quota,
                Subscription = p.Subscription == SubscriptionKind.Annual ? "annual" : "perpetual",
                ExpiresAt = p.ExpiresAt?.ToUniversalTime(),
            }), tx);
        await tx.CommitAsync();
    }
}
