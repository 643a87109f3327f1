using System.Threading.Channels;
using LicenseServer.Data.Database;
using Npgsql;
using NpgsqlTypes;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// C2, the hottest path, batched: the heartbeats that arrive while a batch is being written go together
/// into the next one, a single statement that checks each request's API key and renews each session's
/// own row. No request waits for a timer: a lone heartbeat is written at once, and under load a batch
/// holds whatever queued meanwhile. A heartbeat that is not renewed (unknown or revoked key, a session
/// that ended or expired, a license that ended) comes back false, and the caller finds out why.
/// </summary>
public sealed class HeartbeatBatcher : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private const int Writers = 2; // one batch in the database while the next one fills

    /// <summary>
    /// Renews the sessions whose key is live, whose owner is still an enabled member of the key's
    /// organization, and whose lease runs; rows are locked in id order so that concurrent batches never
    /// deadlock one another. A renewal lost in a database crash is harmless, so its commit does not
    /// wait for the disk (<see cref="ClientRepository.AsynchronousCommit"/>).
    /// </summary>
    private const string Sql = $"""
        {ClientRepository.AsynchronousCommit}
        WITH beat AS (
            SELECT * FROM unnest(@ids::uuid[], @hashes::bytea[], @expires::timestamptz[]) AS b (session_id, key_hash, expires_at)),
        due AS (
            SELECT s.id, b.expires_at FROM beat b
            CROSS JOIN LATERAL kit_api_key_caller(b.key_hash) k
            JOIN floating_session s ON s.id = b.session_id AND s.organization_id = k.organization_id AND s.user_id = k.user_id
            WHERE s.ended_at IS NULL AND s.expires_at > @now
              AND EXISTS (SELECT 1 FROM server_license WHERE valid_until IS NULL OR valid_until > @now)
              AND NOT EXISTS (SELECT 1 FROM licensed_product p WHERE p.code = s.product_code AND p.expires_at <= @now)
            ORDER BY s.id
            FOR UPDATE OF s)
        UPDATE floating_session s SET last_heartbeat_at = @now, expires_at = due.expires_at
        FROM due WHERE s.id = due.id
        RETURNING s.id
        """;

    private sealed record Beat(Guid SessionId, byte[] KeyHash, DateTimeOffset ExpiresAt, TaskCompletionSource<bool> Done);

    private readonly NpgsqlDataSource _db;
    private readonly TimeProvider _clock;
    private readonly Channel<Beat> _queue = Channel.CreateUnbounded<Beat>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _writers;

    public HeartbeatBatcher(NpgsqlDataSource db, TimeProvider clock)
    {
        _db = db;
        _clock = clock;
        _writers = Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteAsync)).ToArray();
    }

    /// <summary>True when the session was renewed until <paramref name="expiresAt"/>.</summary>
    public Task<bool> BeatAsync(Guid sessionId, byte[] keyHash, DateTimeOffset expiresAt)
    {
        var beat = new Beat(sessionId, keyHash, expiresAt, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(beat)) beat.Done.SetException(new ObjectDisposedException(nameof(HeartbeatBatcher)));
        return beat.Done.Task;
    }

    private async Task WriteAsync()
    {
        var batch = new List<Beat>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var beat)) batch.Add(beat);
            if (batch.Count == 0) continue;
            try
            {
                var renewed = await RenewAsync(batch);
                foreach (var beat in batch) beat.Done.TrySetResult(renewed.Contains(beat.SessionId));
            }
            catch (Exception e)
            {
                foreach (var beat in batch) beat.Done.TrySetException(e);
            }
        }
    }

    private async Task<HashSet<Guid>> RenewAsync(List<Beat> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var command = _db.CreateCommand(Sql);
                command.Parameters.Add(new NpgsqlParameter<Guid[]>("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = batch.Select(b => b.SessionId).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<byte[][]>("hashes", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = batch.Select(b => b.KeyHash).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<DateTime[]>("expires", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = batch.Select(b => b.ExpiresAt.UtcDateTime).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<DateTime>("now", NpgsqlDbType.TimestampTz) { TypedValue = _clock.GetUtcNow().UtcDateTime });
                var renewed = new HashSet<Guid>();
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) renewed.Add(reader.GetGuid(0));
                return renewed;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 3)
            {
                // A checkout ending expired sessions can cross a batch on a session that expired just now; heartbeats are idempotent.
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
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }
}
