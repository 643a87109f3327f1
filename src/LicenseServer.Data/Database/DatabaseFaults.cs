using Npgsql;

namespace LicenseServer.Data.Database;

/// <summary>
/// Tells a database that is away (stopped, restarting, unreachable, refusing connections) from every other
/// database error, and repeats the operations that are safe to repeat. Every outage path of the server
/// asks here: the web host answers 503 for these faults and only these.
/// </summary>
public static class DatabaseFaults
{
    /// <summary>Attempts of an operation that is safe to repeat, the first included.</summary>
    public const int Attempts = 3;

    /// <summary>
    /// True for faults of the connection rather than of the statement: Npgsql's own errors (connection
    /// refused or reset, a stream that ended, a timeout, an exhausted pool), a server shutting down or
    /// starting up (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now), class 08
    /// (connection exception) and 53300 (too many connections). A statement's own error (a constraint,
    /// bad input, a lock timeout) is not an outage, and is never retried here.
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
                        || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                            or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections;
                case NpgsqlOperationInProgressException:
                    return false; // a command used twice at once: a bug, not an outage
                case NpgsqlException:
                    return true;
                case AggregateException aggregate:
                    return aggregate.InnerExceptions.Any(IsUnavailable);
            }
        }
        return false;
    }

    /// <summary>
    /// How long to wait before attempt <paramref name="attempt"/> + 1: about 50 ms, then 150 ms, each
    /// spread by ±50 % so that the requests a restart failed together do not come back together.
    /// </summary>
    public static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(50 * Math.Pow(3, attempt - 1) * (0.5 + Random.Shared.NextDouble()));

    /// <summary>
    /// True for the faults that an operation safe to repeat should simply repeat: the database unavailable
    /// (<see cref="IsUnavailable"/>), or its transaction chosen as a deadlock's victim (40P01), which the
    /// other transaction's end resolves.
    /// </summary>
    public static bool IsWorthRepeating(Exception exception) =>
        IsUnavailable(exception) || exception is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected };

    /// <summary>
    /// Runs <paramref name="work"/> (given its attempt number, from 1) and repeats it after a jittered
    /// pause while its fault is worth repeating (<see cref="IsWorthRepeating"/>), up to <see cref="Attempts"/>
    /// times; then the fault is thrown. For operations that are safe to repeat only. After a restart the
    /// pool still holds connections whose server is gone and the first command on one fails: the pool is
    /// cleared, so the next attempt gets a fresh connection.
    /// </summary>
    public static async Task<T> RetryAsync<T>(NpgsqlDataSource db, Func<int, Task<T>> work)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await work(attempt);
            }
            catch (Exception e) when (attempt < Attempts && IsWorthRepeating(e))
            {
                if (IsUnavailable(e)) db.Clear();
                await Task.Delay(Backoff(attempt));
            }
        }
    }
}
