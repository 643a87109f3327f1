using Dapper;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Settings;

/// <summary>Who may create organizations: server admins only (the default), or every signed-in user.</summary>
public enum OrganizationCreation { ServerAdmins, Anyone }

/// <summary>The server's own settings (one row), changed by a server admin only and audited without an organization.</summary>
public sealed class ServerSettingsRepository(NpgsqlDataSource db)
{
    /// <summary>
    /// Moves the clock's high-water mark forward to <paramref name="now"/> if it is later, never back, and
    /// answers the mark: the latest time any node's clock has shown.
    /// </summary>
    public async Task<DateTimeOffset> RaiseClockHighWaterAsync(DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<DateTimeOffset>("""
            UPDATE server_settings SET clock_high_water = greatest(clock_high_water, @now) WHERE id = 1 RETURNING clock_high_water
            """, new { now = now.UtcDateTime });
    }

    public async Task<OrganizationCreation> OrganizationCreationAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return Parse(await connection.ExecuteScalarAsync<string>("SELECT organization_creation FROM server_settings WHERE id = 1"));
    }

    public async Task SetOrganizationCreationAsync(OrganizationCreation value, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var text = ToText(value);
        var changed = await connection.ExecuteAsync(
            "UPDATE server_settings SET organization_creation = @text, updated_at = now() WHERE id = 1 AND organization_creation <> @text", new { text }, tx);
        if (changed == 1) await AuditRepository.WriteAsync(connection, tx, actor, null, "server.organization_creation", text);
        await tx.CommitAsync();
    }

    /// <summary>
    /// Stores the setup code's hash: in place of the one before (which stops working), or, with
    /// <paramref name="onlyIfNone"/>, only where there is none (nodes starting together make one code). False when it was not stored.
    /// </summary>
    public async Task<bool> SetSetupCodeAsync(byte[] hash, bool onlyIfNone)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteAsync(
            "UPDATE server_settings SET setup_code_hash = @hash WHERE id = 1 AND (NOT @onlyIfNone OR setup_code_hash IS NULL)", new { hash, onlyIfNone }) == 1;
    }

    private static OrganizationCreation Parse(string? text) => text == "anyone" ? OrganizationCreation.Anyone : OrganizationCreation.ServerAdmins;

    private static string ToText(OrganizationCreation value) => value == OrganizationCreation.Anyone ? "anyone" : "server_admins";
}
