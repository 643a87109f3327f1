using LicenseServer.Data.Database;
using Npgsql;
using NpgsqlTypes;

namespace LicenseServer.Data.Sessions;

/// <summary>
/// The writes of the client API that touch one floating session's own row, batched (<see cref="BatchWriter{TCall,TResult}"/>):
/// a batch is a single statement that checks each call's API key and writes each session's row. The statement
/// answers the ids of the sessions it wrote (or found), and each call learns whether its own is among them; the
/// caller finds out why not.
/// </summary>
/// <remarks>A statement that also answers the session's organization, product, machine and process (in that order, after the id) hands them to its call.</remarks>
public abstract class SessionBatcher(NpgsqlDataSource db, TimeProvider clock)
    : BatchWriter<SessionBatcher.Call, SessionFacts?>(db, MaxBatch, queues: 1, writersPerQueue: 2) // one batch in the database while the next one fills
{
    private const int MaxBatch = 512;

    public sealed record Call(Guid SessionId, byte[] KeyHash, DateTimeOffset ExpiresAt);

    /// <summary>
    /// The statement, with <c>@ids</c>, <c>@hashes</c> and <c>@now</c>, and whatever <see cref="AddParameters"/>
    /// adds; it answers the ids of the sessions whose calls succeed. Rows are locked in id order so that
    /// concurrent batches never deadlock one another.
    /// </summary>
    protected abstract string Sql { get; }

    protected virtual void AddParameters(NpgsqlParameterCollection parameters, IReadOnlyList<Call> batch)
    {
    }

    /// <summary>Null when the statement did not answer the session: the call did not succeed.</summary>
    protected Task<SessionFacts?> EnqueueAsync(Guid sessionId, byte[] keyHash, DateTimeOffset expiresAt) => PostAsync(new Call(sessionId, keyHash, expiresAt));

    /// <summary>The statement's writes are idempotent: a repeated batch renews or ends the same rows again.</summary>
    protected override async Task<SessionFacts?[]> WriteBatchAsync(IReadOnlyList<Call> batch, int attempt)
    {
        await using var command = Db.CreateCommand(Sql);
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = batch.Select(b => b.SessionId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<byte[][]>("hashes", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = batch.Select(b => b.KeyHash).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = clock.GetUtcNow().UtcDateTime });
        AddParameters(command.Parameters, batch);
        var written = new Dictionary<Guid, SessionFacts>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                written[reader.GetGuid(0)] = reader.FieldCount < 5 ? SessionFacts.Unread
                    : new SessionFacts(reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4));
        return batch.Select(call => written.GetValueOrDefault(call.SessionId)).ToArray();
    }
}

/// <summary>The session a batched call wrote: whose seat it is, for which product, machine and process.</summary>
public sealed record SessionFacts(long OrganizationId, string ProductCode, string MachineId, string ProcessId)
{
    /// <summary>For statements that answer only the session's id.</summary>
    public static readonly SessionFacts Unread = new(0, "", "", "");
}
