using Dapper;
using Npgsql;

namespace LicenseServer.Data.Accounts;

/// <summary>Failed sign-ins per (address, email), kept in PostgreSQL so every node throttles alike.</summary>
public sealed class SignInFailureRepository(NpgsqlDataSource db)
{
    public async Task<(int Count, DateTime? Oldest)> RecentAsync(string address, string email, DateTimeOffset since)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(long, DateTime?)>("""
            SELECT count(*), min(failed_at) FROM sign_in_failure
            WHERE email = lower(@email) AND address = @address AND failed_at > @since
            """, new { address, email, since });
        return ((int)row.Item1, row.Item2);
    }

    public async Task RecordAsync(string address, string email, DateTimeOffset at)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "INSERT INTO sign_in_failure (address, email, failed_at) VALUES (@address, lower(@email), @at)",
            new { address, email, at });
    }

    public async Task ClearAsync(string address, string email)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("DELETE FROM sign_in_failure WHERE email = lower(@email) AND address = @address", new { address, email });
    }
}
