using Dapper;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>L10: the server admin's churn limit per product, overriding the configured default.</summary>
public sealed class ChurnLimitRepository(NpgsqlDataSource db)
{
    internal static Task<ChurnLimit?> ForProductAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string productCode) =>
        connection.QuerySingleOrDefaultAsync<ChurnLimit?>(
            "SELECT max_activations AS activations, window_days FROM product_churn_limit WHERE product_code = @productCode", new { productCode }, tx);

    /// <summary>The overrides by product code.</summary>
    public async Task<IReadOnlyDictionary<string, ChurnLimit>> ListAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<(string Code, int Activations, int WindowDays)>(
                "SELECT product_code, max_activations, window_days FROM product_churn_limit"))
            .ToDictionary(r => r.Code, r => new ChurnLimit(r.Activations, r.WindowDays));
    }

    /// <summary>Sets the product's limit, or with null goes back to the configured default (<paramref name="fallback"/>, for the audit).</summary>
    public async Task SetAsync(string productCode, ChurnLimit? limit, ChurnLimit fallback, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var known = await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM licensed_product WHERE code = @productCode)", new { productCode }, tx);
        if (!known) throw new LicenseRuleException("unknown_product", $"The server's license has no product {productCode}.");
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
