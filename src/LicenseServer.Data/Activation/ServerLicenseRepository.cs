using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Licenses;
using Npgsql;

namespace LicenseServer.Data.Activation;

public sealed record ServerLicenseRow(Guid LicenseId, string Customer, DateTimeOffset IssuedAt, DateTimeOffset ValidFrom,
    DateTimeOffset? ValidUntil, string FileText, DateTimeOffset ActivatedAt);

/// <summary>A product of the server's license, read with its kind and subscription as stored, in words (<see cref="ProductWords"/>).</summary>
public sealed record ProductRow(string Code, string Name, string KindWord, int Quota, string SubscriptionWord, DateTimeOffset? ExpiresAt)
{
    public ProductKind Kind => ProductWords.Kind(KindWord);

    public SubscriptionKind Subscription => ProductWords.Subscription(SubscriptionWord);
}

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

    /// <summary>Throws the refusal of <c>kit_license_refusal</c> when the server's license is not in force at <paramref name="now"/>.</summary>
    public async Task RequireInForceAsync(DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        SeatPools.RequireLicenseInForce(await connection.QuerySingleAsync<(string?, DateTimeOffset?)>(SeatPools.LicenseSql,
            new { now = now.UtcDateTime, clockSkewSeconds = SeatPools.ClockSkewSeconds }));
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
            "SELECT code, name, kind AS kind_word, quota, subscription AS subscription_word, expires_at FROM licensed_product ORDER BY code");
        return rows.AsList();
    }

    /// <summary>
    /// Makes <paramref name="payload"/> the active license with its products, all or nothing, unless a
    /// newer license was ever activated here: then nothing is stored and the newer one's issue date is
    /// returned. Organizations, shares and assignments are kept.
    /// </summary>
    public async Task<DateTime?> ActivateAsync(LicensePayload payload, string fileText, long? actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        // The installation row serialises uploads, so two racing uploads cannot both pass the check.
        var newest = await connection.ExecuteScalarAsync<DateTime?>(
            "SELECT greatest(newest_license_issued_at, (SELECT issued_at FROM server_license WHERE id = 1)) FROM installation WHERE id = 1 FOR UPDATE",
            transaction: tx);
        var issuedAt = payload.IssuedAt.UtcDateTime;
        if (newest is { } n && n > issuedAt) return n;
        await connection.ExecuteAsync("""
            INSERT INTO server_license (id, license_id, customer, issued_at, valid_from, valid_until, file_text, activated_at)
            VALUES (1, @LicenseId, @Customer, @IssuedAt, @ValidFrom, @ValidUntil, @fileText, now())
            ON CONFLICT (id) DO UPDATE SET license_id = excluded.license_id, customer = excluded.customer,
                issued_at = excluded.issued_at, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
                file_text = excluded.file_text, activated_at = excluded.activated_at;
            UPDATE installation SET newest_license_issued_at = @IssuedAt WHERE id = 1;
            """, new
            {
                payload.LicenseId,
                payload.Customer,
                IssuedAt = issuedAt,
                ValidFrom = payload.ValidFrom.UtcDateTime,
                ValidUntil = payload.ValidUntil?.UtcDateTime,
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
                Kind = p.Kind.Word(),
                p.Quota,
                Subscription = p.Subscription.Word(),
                ExpiresAt = p.ExpiresAt?.UtcDateTime,
            }), tx);
        await AuditRepository.WriteAsync(connection, tx, actor, null, "license.uploaded", payload.Customer,
            $"license {payload.LicenseId}: {string.Join(", ", payload.Products.Select(p => $"{p.Code} {p.Quota}"))}");
        await tx.CommitAsync();
        return null;
    }

    /// <summary>Back to the un-licensed state. Organizations, shares, assignments and history are kept for the next upload.</summary>
    public async Task<bool> DeleteAsync(long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var deleted = await connection.QuerySingleOrDefaultAsync<(Guid LicenseId, string Customer)?>(
            "DELETE FROM server_license WHERE id = 1 RETURNING license_id, customer", transaction: tx);
        if (deleted is not { } license) return false;
        await connection.ExecuteAsync("DELETE FROM licensed_product", transaction: tx);
        await AuditRepository.WriteAsync(connection, tx, actor, null, "license.deleted", license.Customer, $"license {license.LicenseId}");
        await tx.CommitAsync();
        return true;
    }

    /// <summary>Claims the mailing of one expiry warning; false when it was sent (or is being sent) already.</summary>
    public async Task<bool> ClaimExpiryNoticeAsync(string subject, DateTimeOffset expiresAt, int days)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteAsync("""
            INSERT INTO expiry_notice (subject, expires_at, days) VALUES (@subject, @expiresAt, @days) ON CONFLICT DO NOTHING
            """, new { subject, expiresAt = expiresAt.UtcDateTime, days }) == 1;
    }

    /// <summary>Gives a claimed warning back after its mail failed, so that the next check tries again.</summary>
    public async Task ReleaseExpiryNoticeAsync(string subject, DateTimeOffset expiresAt, int days)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("DELETE FROM expiry_notice WHERE subject = @subject AND expires_at = @expiresAt AND days = @days",
            new { subject, expiresAt = expiresAt.UtcDateTime, days });
    }

    /// <summary>The enabled server admins, who receive the expiry warnings.</summary>
    public async Task<IReadOnlyList<(long Id, string Email)>> ServerAdminsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<(long, string)>(
            "SELECT id, email FROM public.user_account WHERE is_server_admin AND NOT disabled AND password IS NOT NULL ORDER BY id")).AsList();
    }
}
