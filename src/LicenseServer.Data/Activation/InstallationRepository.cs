using Dapper;
using Npgsql;

namespace LicenseServer.Data.Activation;

public sealed record InstallationRow(string InstallationId, string ServerPublicKey, string ServerPrivateKeyProtected, DateTime CreatedAt);

public sealed class InstallationRepository(NpgsqlDataSource db)
{
    public async Task<InstallationRow?> GetAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<InstallationRow>(
            "SELECT installation_id, server_public_key, server_private_key_protected, created_at FROM installation WHERE id = 1");
    }

    /// <summary>Stores the identity unless one exists already (another node may have won the race); returns the stored one.</summary>
    public async Task<InstallationRow> CreateOnceAsync(string installationId, string publicKey, string privateKeyProtected)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO installation (id, installation_id, server_public_key, server_private_key_protected)
            VALUES (1, @installationId, @publicKey, @privateKeyProtected)
            ON CONFLICT (id) DO NOTHING
            """, new { installationId, publicKey, privateKeyProtected });
        return await connection.QuerySingleAsync<InstallationRow>(
            "SELECT installation_id, server_public_key, server_private_key_protected, created_at FROM installation WHERE id = 1");
    }
}
