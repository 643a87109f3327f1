using Dapper;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Mail;

public sealed record MailSettingsRow(long OrganizationId, string Host, int Port, string? Username, string? PasswordProtected, string Protocol, string Sender);

public sealed class MailSettingsRepository(NpgsqlDataSource db)
{
    private const string Columns = "organization_id, host, port, username, password_protected, protocol, sender";

    public async Task<MailSettingsRow?> GetAsync(long organizationId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<MailSettingsRow>(
            $"SELECT {Columns} FROM mail_settings WHERE organization_id = @organizationId", new { organizationId });
    }

    /// <summary>The mail server of one of the user's organizations, for mail about the user's own account.</summary>
    public async Task<MailSettingsRow?> ForUserAsync(long userId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QueryFirstOrDefaultAsync<MailSettingsRow>($"""
            SELECT {Columns} FROM mail_settings WHERE organization_id IN (SELECT organization_id FROM organization_member WHERE user_id = @userId)
            ORDER BY organization_id LIMIT 1
            """, new { userId });
    }

    public async Task<bool> AnyAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM mail_settings)");
    }

    /// <summary>Saves the settings; a null <c>PasswordProtected</c> keeps the stored password.</summary>
    public async Task SaveAsync(MailSettingsRow settings, bool keepPassword, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO mail_settings (organization_id, host, port, username, password_protected, protocol, sender, updated_at)
            VALUES (@OrganizationId, @Host, @Port, @Username, @PasswordProtected, @Protocol, @Sender, now())
            ON CONFLICT (organization_id) DO UPDATE SET host = excluded.host, port = excluded.port, username = excluded.username,
                password_protected = CASE WHEN @keepPassword THEN mail_settings.password_protected ELSE excluded.password_protected END,
                protocol = excluded.protocol, sender = excluded.sender, updated_at = now()
            """, new { settings.OrganizationId, settings.Host, settings.Port, settings.Username, settings.PasswordProtected, settings.Protocol, settings.Sender, keepPassword }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, settings.OrganizationId, "mail.updated", $"{settings.Host}:{settings.Port}", settings.Protocol);
        await tx.CommitAsync();
    }
}
