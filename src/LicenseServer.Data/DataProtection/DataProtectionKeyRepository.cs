using Dapper;
using Npgsql;

namespace LicenseServer.Data.DataProtection;

/// <summary>The ASP.NET Data Protection key ring, stored so every node and every restart share it.</summary>
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
}
