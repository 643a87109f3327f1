using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>The server admin's churn limit per product, overriding the configured default.</summary>
public sealed class ChurnLimitRepository(NpgsqlDataSource db)
{
    internal static Task<ChurnLimit?> ForProductAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string productCode) =>
        connection.QuerySingleOrDefaultAsync<ChurnLimit?>(
            "SELECT max_activations AS activations, window_days FROM product_churn_limit WHERE product_code = @productCode", new { productCode }, tx);

    /// <summary>Every per-user product (the churn limit concerns activations) with its override, if any.</summary>
    public async Task<IReadOnlyList<(string Code, string Name, ChurnLimit? Override)>> ListAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<(string Code, string Name, int? Activations, int? WindowDays)>("""
                SELECT p.code, p.name, c.max_activations, c.window_days
                FROM licensed_product p LEFT JOIN product_churn_limit c ON c.product_code = p.code
                WHERE p.kind = 'per-user' ORDER BY p.code
                """))
            .Select(r => (r.Code, r.Name, r.Activations is { } a && r.WindowDays is { } d ? new ChurnLimit(a, d) : null)).ToList();
    }

    /// <summary>Sets the product's limit, or with null goes back to the configured default (<paramref name="fallback"/>, for the audit).</summary>
    public async Task SetAsync(string productCode, ChurnLimit? limit, ChurnLimit fallback, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var kind = await connection.ExecuteScalarAsync<string?>("SELECT kind FROM licensed_product WHERE code = @productCode", new { productCode }, tx)
            ?? throw Refusals.Word("unknown_product", new RefusalFacts(productCode));
        if (ProductWords.Kind(kind) != ProductKind.PerUser) throw new LicenseRuleException("not_per_user", $"{productCode} is a floating license: machines are not activated for it, so no churn limit applies.");
        if (limit is null)
            await connection.ExecuteAsync("DELETE FROM product_churn_limit WHERE product_code = @productCode", new { productCode }, tx);
        else
            await connection.ExecuteAsync("""
                INSERT INTO product_churn_limit (product_code, max_activations, window_days) VALUES (@productCode, @Activations, @WindowDays)
                ON CONFLICT (product_code) DO UPDATE SET max_activations = excluded.max_activations, window_days = excluded.window_days, updated_at = now()
                """, new { productCode, limit.Activations, limit.WindowDays }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, null, "license.churn_limit_set", productCode,
            limit is null ? $"default ({fallback})" : limit.ToString());
        await tx.CommitAsync();
    }
}
