using Dapper;
using Npgsql;

namespace LicenseServer.Data.DataProtection;

/// <summary>
/// The ASP.NET Data Protection key ring, stored so every node and every restart share it. The rows are stored
/// as the caller hands them (encrypted with the secrets key); <see cref="ClaimKeyId"/> records which key that is.
/// </summary>
public sealed class DataProtectionKeyRepository(NpgsqlDataSource db)
{
    public IReadOnlyList<string> GetAll()
    {
        using var connection = db.OpenConnection();
        return connection.Query<string>("SELECT xml FROM data_protection_key ORDER BY created_at").AsList();
    }

    public void Store(string friendlyName, string xml)
    {
        using var connection = db.OpenConnection();
        connection.Execute("""
            INSERT INTO data_protection_key (friendly_name, xml) VALUES (@friendlyName, @xml)
            ON CONFLICT (friendly_name) DO NOTHING
            """, new { friendlyName, xml });
    }

    /// <summary>The id of the secrets key the ring is encrypted with, and how many rows the ring has.</summary>
    public (string? KeyId, int Rows) State()
    {
        using var connection = db.OpenConnection();
        return connection.QuerySingle<(string?, int)>(
            "SELECT (SELECT secrets_key_id FROM server_settings WHERE id = 1), (SELECT count(*)::int FROM data_protection_key)");
    }

    /// <summary>
    /// Records <paramref name="keyId"/> as the ring's key unless one is recorded already, and encrypts the rows
    /// stored in clear before (an installation from before secrets keys) with <paramref name="encrypt"/>, in one
    /// transaction. Answers the key id recorded: another node may have claimed the ring first.
    /// </summary>
    public string ClaimKeyId(string keyId, Func<string, bool> isEncrypted, Func<string, string> encrypt)
    {
        using var connection = db.OpenConnection();
        using var tx = connection.BeginTransaction();
        var recorded = connection.ExecuteScalar<string?>("SELECT secrets_key_id FROM server_settings WHERE id = 1 FOR UPDATE", transaction: tx);
        if (recorded is not null) return recorded;
        foreach (var (name, xml) in connection.Query<(string, string)>("SELECT friendly_name, xml FROM data_protection_key FOR UPDATE", transaction: tx).AsList())
            if (!isEncrypted(xml))
                connection.Execute("UPDATE data_protection_key SET xml = @xml WHERE friendly_name = @name", new { name, xml = encrypt(xml) }, tx);
        connection.Execute("UPDATE server_settings SET secrets_key_id = @keyId WHERE id = 1", new { keyId }, tx);
        tx.Commit();
        return keyId;
    }
}
