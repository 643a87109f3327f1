using Dapper;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Alerts;

/// <summary>An organization's alert settings as stored; the webhook secret stays encrypted here.</summary>
public sealed record AlertSettingsRow(long OrganizationId, int? ThresholdPercent, bool OnRefusal, string? WebhookUrl, string? WebhookSecretProtected);

/// <summary>Alert settings, the once-an-hour claim, the recipients and the audit of a sent alert.</summary>
public sealed class AlertRepository(NpgsqlDataSource db)
{
    public async Task<AlertSettingsRow?> GetAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<AlertSettingsRow>("""
            SELECT organization_id, threshold_percent, on_refusal, webhook_url, webhook_secret_protected
            FROM alert_settings WHERE organization_id = @organizationId
            """, new { organizationId });
    }

    /// <summary>Saves the settings and audits the change in one transaction; the secret itself is never audited.</summary>
    public async Task SaveAsync(AlertSettingsRow settings, string auditDetails, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO alert_settings (organization_id, threshold_percent, on_refusal, webhook_url, webhook_secret_protected, updated_at)
            VALUES (@OrganizationId, @ThresholdPercent, @OnRefusal, @WebhookUrl, @WebhookSecretProtected, now())
            ON CONFLICT (organization_id) DO UPDATE SET threshold_percent = excluded.threshold_percent, on_refusal = excluded.on_refusal,
                webhook_url = excluded.webhook_url, webhook_secret_protected = excluded.webhook_secret_protected, updated_at = now()
            """, settings, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, settings.OrganizationId, "alerts.updated", "alerts", auditDetails);
        await tx.CommitAsync();
    }

    /// <summary>
    /// Claims the next alert of a product: true for exactly one caller an hour, on however many nodes
    /// (a conditional upsert; a concurrent claim waits for the row lock and then sees the new time).
    /// </summary>
    public async Task<bool> TryClaimAsync(long organizationId, string productCode, DateTimeOffset now, TimeSpan quiet)
    {
        await using var connection = await db.OpenConnectionAsync();
        var claimed = await connection.ExecuteScalarAsync<DateTime?>("""
            INSERT INTO alert_state (organization_id, product_code, last_sent_at) VALUES (@organizationId, @productCode, @now)
            ON CONFLICT (organization_id, product_code) DO UPDATE SET last_sent_at = excluded.last_sent_at
            WHERE alert_state.last_sent_at <= @cutoff
            RETURNING last_sent_at
            """, new { organizationId, productCode, now = now.UtcDateTime, cutoff = (now - quiet).UtcDateTime });
        return claimed is not null;
    }

    /// <summary>When the product's last alert was sent, by any node.</summary>
    public async Task<DateTimeOffset?> LastSentAsync(long organizationId, string productCode)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<DateTimeOffset?>(
            "SELECT last_sent_at FROM alert_state WHERE organization_id = @organizationId AND product_code = @productCode", new { organizationId, productCode });
    }

    /// <summary>The organization's name and its enabled Owners' and Admins' emails.</summary>
    public async Task<(string Name, IReadOnlyList<string> Admins)> RecipientsAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var name = await connection.ExecuteScalarAsync<string>("SELECT name FROM organization WHERE id = @organizationId", new { organizationId }) ?? "";
        var emails = await connection.QueryAsync<string>("""
            SELECT u.email FROM organization_member m JOIN public.user_account u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId AND m.role IN ('owner', 'admin') AND NOT u.disabled
            ORDER BY u.email
            """, new { organizationId });
        return (name, emails.AsList());
    }

    /// <summary>Audits an alert that went out (by the server: no actor).</summary>
    public async Task AuditSentAsync(long organizationId, string productCode, string details)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await AuditRepository.WriteAsync(connection, tx, null, organizationId, "alert.sent", productCode, details);
        await tx.CommitAsync();
    }
}
