using LicenseServer.Data.Database;
using Npgsql;
using NpgsqlTypes;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// The writes of the client API that touch one floating session's own row, batched (<see cref="BatchQueue{T}"/>):
/// a batch is a single statement that checks each call's API key and writes each session's row. The statement
/// answers the ids of the sessions it wrote (or found), and each call learns whether its own is among them; the
/// caller finds out why not.
/// </summary>
/// <remarks>A statement that also answers the session's organization, product, machine and process (in that order, after the id) hands them to its call.</remarks>
public abstract class SessionBatcher : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private const int Writers = 2; // one batch in the database while the next one fills

    protected sealed record Call(Guid SessionId, byte[] KeyHash, DateTimeOffset ExpiresAt, TaskCompletionSource<SessionFacts?> Done);

    private readonly NpgsqlDataSource _db;
    private readonly TimeProvider _clock;
    private readonly BatchQueue<Call> _queue;

    protected SessionBatcher(NpgsqlDataSource db, TimeProvider clock)
    {
        _db = db;
        _clock = clock;
        _queue = new BatchQueue<Call>(MaxBatch, Writers, WriteAsync, (call, e) => call.Done.TrySetException(e));
    }

    /// <summary>
    /// The statement, with <c>@ids</c>, <c>@hashes</c> and <c>@now</c>, and whatever <see cref="AddParameters"/>
    /// adds; it answers the ids of the sessions whose calls succeed. Rows are locked in id order so that
    /// concurrent batches never deadlock one another.
    /// </summary>
    protected abstract string Sql { get; }

    protected virtual void AddParameters(NpgsqlParameterCollection parameters, List<Call> batch)
    {
    }

    /// <summary>Null when the statement did not answer the session: the call did not succeed.</summary>
    protected Task<SessionFacts?> EnqueueAsync(Guid sessionId, byte[] keyHash, DateTimeOffset expiresAt)
    {
        var call = new Call(sessionId, keyHash, expiresAt, new TaskCompletionSource<SessionFacts?>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.TryPost(call)) call.Done.SetException(new ObjectDisposedException(GetType().Name));
        return call.Done.Task;
    }

    private async Task WriteAsync(List<Call> batch)
    {
        var written = await WriteBatchAsync(batch);
        foreach (var call in batch) call.Done.TrySetResult(written.GetValueOrDefault(call.SessionId));
    }

    private async Task<Dictionary<Guid, SessionFacts>> WriteBatchAsync(List<Call> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var command = _db.CreateCommand(Sql);
                command.Parameters.Add(new NpgsqlParameter<Guid[]>("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = batch.Select(b => b.SessionId).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<byte[][]>("hashes", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = batch.Select(b => b.KeyHash).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = _clock.GetUtcNow().UtcDateTime });
                AddParameters(command.Parameters, batch);
                var written = new Dictionary<Guid, SessionFacts>();
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                    written[reader.GetGuid(0)] = reader.FieldCount < 5 ? SessionFacts.Unread
                        : new SessionFacts(reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4));
                return written;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 3)
            {
                // A checkout ending expired sessions can cross a batch on a session that expired just now; these writes are idempotent.
            }
            catch (Exception e) when (attempt < DatabaseFaults.Attempts && DatabaseFaults.IsUnavailable(e))
            {
                // Idempotent too: after a database restart the pool's first connections are dead.
                _db.Clear();
                await Task.Delay(DatabaseFaults.Backoff(attempt));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _queue.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The session a batched call wrote: whose seat it is, for which product, machine and process.</summary>
public sealed record SessionFacts(long OrganizationId, string ProductCode, string MachineId, string ProcessId)
{
    /// <summary>For statements that answer only the session's id.</summary>
    public static readonly SessionFacts Unread = new(0, "", "", "");
}
