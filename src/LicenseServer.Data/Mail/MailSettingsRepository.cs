using Dapper;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Mail;

/// <summary>A mail server's settings: an organization's, or the server's own when <c>OrganizationId</c> is null.</summary>
public sealed record MailSettingsRow(long? OrganizationId, string Host, int Port, string? Username, string? PasswordProtected, string Protocol, string Sender);

/// <summary>
/// Mail servers: one per organization for its own notices, and the server's own (no organization) for mail
/// about a person's account. A null organization id always means the server's.
/// </summary>
public sealed class MailSettingsRepository(NpgsqlDataSource db)
{
    private const string Columns = "organization_id, host, port, username, password_protected, protocol, sender";

    public async Task<MailSettingsRow?> GetAsync(long? organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<MailSettingsRow>(
            $"SELECT {Columns} FROM mail_settings WHERE coalesce(organization_id, 0) = coalesce(@organizationId::bigint, 0)", new { organizationId });
    }

    /// <summary>Whether some organization has a mail server: after an upgrade, the server's own may still be missing.</summary>
    public async Task<bool> AnyOrganizationAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM mail_settings WHERE organization_id IS NOT NULL)");
    }

    /// <summary>Saves the settings; a null <c>PasswordProtected</c> keeps the stored password.</summary>
    public async Task SaveAsync(MailSettingsRow settings, bool keepPassword, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO mail_settings (organization_id, host, port, username, password_protected, protocol, sender, updated_at)
            VALUES (@OrganizationId, @Host, @Port, @Username, @PasswordProtected, @Protocol, @Sender, now())
            ON CONFLICT ((coalesce(organization_id, 0))) DO UPDATE SET host = excluded.host, port = excluded.port, username = excluded.username,
                password_protected = CASE WHEN @keepPassword THEN mail_settings.password_protected ELSE excluded.password_protected END,
                protocol = excluded.protocol, sender = excluded.sender, updated_at = now()
            """, new { settings.OrganizationId, settings.Host, settings.Port, settings.Username, settings.PasswordProtected, settings.Protocol, settings.Sender, keepPassword }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, settings.OrganizationId,
            settings.OrganizationId is null ? "server.mail_updated" : "mail.updated", $"{settings.Host}:{settings.Port}", settings.Protocol);
        await tx.CommitAsync();
    }
}
