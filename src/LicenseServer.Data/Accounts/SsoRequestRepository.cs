using Dapper;
using Npgsql;

namespace LicenseServer.Data.Accounts;

/// <summary>A sign-in through the OpenID provider in progress, and for the desktop flow what the client sent.</summary>
public sealed record SsoRequestRow(byte[] BrowserHash, string Nonce, string CodeVerifier, string? ReturnUrl, string? ClientRedirect, string? ClientState,
    string? ClientChallenge);

/// <summary>
/// Sign-ins through the OpenID provider in progress, in the database so that any node can finish what another started.
/// Each row is used once: taking it deletes it. Lifetimes run on the database's clock, which every node shares.
/// </summary>
public sealed class SsoRequestRepository(NpgsqlDataSource db)
{
    public async Task StartAsync(byte[] stateHash, SsoRequestRow request, TimeSpan lifetime)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            DELETE FROM sso_request WHERE expires_at < now();
            INSERT INTO sso_request (state_hash, browser_hash, nonce, code_verifier, return_url, client_redirect, client_state, client_challenge, expires_at)
            VALUES (@stateHash, @BrowserHash, @Nonce, @CodeVerifier, @ReturnUrl, @ClientRedirect, @ClientState, @ClientChallenge, now() + @lifetime);
            """, new
        {
            stateHash, request.BrowserHash, request.Nonce, request.CodeVerifier, request.ReturnUrl, request.ClientRedirect, request.ClientState,
            request.ClientChallenge, lifetime,
        });
    }

    /// <summary>The sign-in the provider's answer names by its state, taken once; null when unknown, used or expired.</summary>
    public async Task<SsoRequestRow?> TakeAsync(byte[] stateHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<SsoRequestRow>("""
            DELETE FROM sso_request WHERE state_hash = @stateHash AND code_hash IS NULL AND expires_at > now()
            RETURNING browser_hash, nonce, code_verifier, return_url, client_redirect, client_state, client_challenge
            """, new { stateHash });
    }

    /// <summary>Keeps a desktop sign-in's one-time code (its hash) for the person, for the client to exchange.</summary>
    public async Task IssueCodeAsync(byte[] codeHash, long userId, string clientRedirect, string clientChallenge, TimeSpan lifetime)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO sso_request (state_hash, browser_hash, nonce, code_verifier, client_redirect, client_challenge, code_hash, user_id, expires_at)
            VALUES (@codeHash, '\x'::bytea, '', '', @clientRedirect, @clientChallenge, @codeHash, @userId, now() + @lifetime)
            """, new { codeHash, userId, clientRedirect, clientChallenge, lifetime });
    }

    /// <summary>A desktop sign-in's code, taken once: the person, and the redirect and challenge the client started with.</summary>
    public async Task<(long UserId, string ClientRedirect, string ClientChallenge)?> TakeCodeAsync(byte[] codeHash)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<(long, string, string)?>("""
            DELETE FROM sso_request WHERE code_hash = @codeHash AND expires_at > now() RETURNING user_id, client_redirect, client_challenge
            """, new { codeHash });
    }
}
