using Dapper;
using Npgsql;

namespace LicenseServer.Data.Accounts;

/// <param name="DirectoryLinked">The account signs in through the directory or the OpenID provider, never with a password of this server.</param>
public sealed record UserAccountRow(long Id, string Email, string? Password, bool PasswordEncrypted, bool MustChangePassword,
    bool IsServerAdmin, bool IsDefaultAccount, bool Disabled, Guid SecurityStamp, bool DirectoryLinked);

public enum DefaultAccountOutcome { Created, Exists, WrongSetupCode }

public sealed class UserAccountRepository(NpgsqlDataSource db)
{
    private const string Columns =
        "id, email, password, password_encrypted, must_change_password, is_server_admin, is_default_account, disabled, security_stamp, " +
        "EXISTS (SELECT 1 FROM directory_link l WHERE l.user_id = user_account.id) AS directory_linked";

    public async Task<UserAccountRow?> FindByEmailAsync(string email)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<UserAccountRow>(
            $"SELECT {Columns} FROM public.user_account WHERE lower(email) = lower(@email)", new { email });
    }

    public async Task<UserAccountRow?> FindByIdAsync(long id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<UserAccountRow>(
            $"SELECT {Columns} FROM public.user_account WHERE id = @id", new { id });
    }

    public async Task<bool> DefaultAccountExistsAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM public.user_account WHERE is_default_account)");
    }

    /// <summary>
    /// Creates the one default account, for whoever runs the server's own command (they hold its configuration,
    /// so no setup code is asked). False when it exists already; the unique index decides races. The setup code
    /// is spent either way.
    /// </summary>
    public async Task<bool> CreateDefaultAccountAsync(string email, string passwordHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var created = await InsertDefaultAccountAsync(connection, tx, email, passwordHash);
        await connection.ExecuteAsync("UPDATE server_settings SET setup_code_hash = NULL WHERE id = 1", transaction: tx);
        await tx.CommitAsync();
        return created;
    }

    /// <summary>
    /// Creates the one default account from the Setup page: only with the setup code whose hash is stored, which
    /// it spends in the same transaction, so a code creates one account at most.
    /// </summary>
    public async Task<DefaultAccountOutcome> CreateDefaultAccountAsync(string email, string passwordHash, byte[] setupCodeHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        if (await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM public.user_account WHERE is_default_account)", transaction: tx))
            return DefaultAccountOutcome.Exists;
        var spent = await connection.ExecuteAsync(
            "UPDATE server_settings SET setup_code_hash = NULL WHERE id = 1 AND setup_code_hash = @setupCodeHash", new { setupCodeHash }, tx);
        if (spent == 0) return DefaultAccountOutcome.WrongSetupCode;
        if (!await InsertDefaultAccountAsync(connection, tx, email, passwordHash)) return DefaultAccountOutcome.Exists;
        await tx.CommitAsync();
        return DefaultAccountOutcome.Created;
    }

    private static async Task<bool> InsertDefaultAccountAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string email, string passwordHash) =>
        await connection.ExecuteAsync("""
            INSERT INTO public.user_account (email, password, password_encrypted, is_server_admin, is_default_account, password_changed_at)
            VALUES (@email, @passwordHash, true, true, true, now())
            ON CONFLICT DO NOTHING
            """, new { email, passwordHash }, tx) == 1;

    /// <summary>
    /// Replaces a plain password set by the SQL fallback with its hash, only if it is still plain
    /// (another sign-in may have done it first), and asks the user to choose a new one. The new stamp
    /// ends the sessions and tokens issued before an administrator reset the password by SQL.
    /// </summary>
    public async Task<bool> HashPlainPasswordAsync(long id, string plain, string hash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteAsync("""
            UPDATE public.user_account SET password = @hash, password_encrypted = true, must_change_password = true,
                security_stamp = gen_random_uuid()
            WHERE id = @id AND password_encrypted = false AND password = @plain
            """, new { id, plain, hash }) == 1;
    }

    /// <summary>An old-format hash replaced by a stronger one at sign-in; the stamp is kept so sessions live on.</summary>
    public async Task UpgradeHashAsync(long id, string oldHash, string newHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "UPDATE public.user_account SET password = @newHash WHERE id = @id AND password = @oldHash AND password_encrypted",
            new { id, oldHash, newHash });
    }

    /// <summary>Sets a new password and a new security stamp, which ends every other session of the user.</summary>
    public async Task<Guid> SetPasswordAsync(long id, string hash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<Guid>("""
            UPDATE public.user_account
            SET password = @hash, password_encrypted = true, must_change_password = false,
                security_stamp = gen_random_uuid(), password_changed_at = now()
            WHERE id = @id
            RETURNING security_stamp
            """, new { id, hash });
    }
}
