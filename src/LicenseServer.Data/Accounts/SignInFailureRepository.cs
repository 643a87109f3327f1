using Dapper;
using Npgsql;

namespace LicenseServer.Data.Accounts;

/// <summary>The limits a sign-in attempt is held to: per (address, email), and per email whatever the address.</summary>
public sealed record SignInLimits(int PairFailures, TimeSpan PairWindow, int AccountFailures, TimeSpan AccountWindow);

/// <summary>An attempt that was let through (<see cref="Id"/> is its row), or refused until <see cref="RetryAt"/>.</summary>
public sealed record SignInAttempt(long? Id, DateTimeOffset? RetryAt)
{
    public bool Throttled => Id is null;
}

/// <summary>
/// Failed sign-ins per (address, email), kept in PostgreSQL so every node throttles alike. An attempt is
/// written as a failure before its password is checked, under a lock on its email, so that parallel
/// attempts cannot pass a limit between counting and recording; a success takes its row back.
/// </summary>
public sealed class SignInFailureRepository(NpgsqlDataSource db)
{
    public async Task<SignInAttempt> BeginAsync(string address, string email, DateTimeOffset now, SignInLimits limits)
    {
        var pairSince = now - limits.PairWindow;
        var accountSince = now - limits.AccountWindow;
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        // One attempt at a time per email (a hash collision only makes two emails wait for each other for a moment).
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtextextended(lower(@email), 0))", new { email }, tx);
        var counts = await connection.QuerySingleAsync<(long Pair, DateTimeOffset? PairOldest, long Account, DateTimeOffset? AccountOldest)>("""
            SELECT count(*) FILTER (WHERE address = @address AND NOT cleared AND failed_at > @pairSince),
                   min(failed_at) FILTER (WHERE address = @address AND NOT cleared AND failed_at > @pairSince),
                   count(*) FILTER (WHERE failed_at > @accountSince),
                   min(failed_at) FILTER (WHERE failed_at > @accountSince)
            FROM sign_in_failure
            WHERE email = lower(@email) AND failed_at > least(@pairSince, @accountSince)
            """, new { address, email, pairSince, accountSince }, tx);
        // Refused until the oldest failure in the window ages out (at a limit, the one whose going lifts it); if both
        // limits are reached, until both are lifted.
        var pairRetry = counts.Pair >= limits.PairFailures ? counts.PairOldest!.Value + limits.PairWindow : (DateTimeOffset?)null;
        var accountRetry = counts.Account >= limits.AccountFailures ? counts.AccountOldest!.Value + limits.AccountWindow : (DateTimeOffset?)null;
        if (pairRetry is not null || accountRetry is not null)
        {
            await tx.CommitAsync();
            return new SignInAttempt(null, Later(pairRetry, accountRetry));
        }
        var id = await connection.ExecuteScalarAsync<long>("""
            DELETE FROM sign_in_failure WHERE failed_at < @oldest;
            INSERT INTO sign_in_failure (address, email, failed_at) VALUES (@address, lower(@email), @now) RETURNING id;
            """, new { address, email, now, oldest = now - Max(limits.PairWindow, limits.AccountWindow) }, tx);
        await tx.CommitAsync();
        return new SignInAttempt(id, null);
    }

    /// <summary>The attempt succeeded: its row goes, and the pair's earlier failures stop counting for the pair (not for the hourly cap).</summary>
    public async Task SucceededAsync(SignInAttempt attempt, string address, string email)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            DELETE FROM sign_in_failure WHERE id = @id;
            UPDATE sign_in_failure SET cleared = true WHERE email = lower(@email) AND address = @address AND NOT cleared;
            """, new { id = attempt.Id, address, email });
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a > b ? a : b;
}
