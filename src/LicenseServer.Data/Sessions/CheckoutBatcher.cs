using System.Collections.Concurrent;
using Dapper;
using LicenseServer.Data.Database;
using LicenseServer.Data.Licenses;
using Npgsql;
using NpgsqlTypes;
using CheckoutRow = LicenseServer.Data.Sessions.FloatingSessions.CheckoutRow;

namespace LicenseServer.Data.Sessions;

/// <summary>One checkout: who asks (an API key's hash, or a member), for what, the session ids and the times.</summary>
internal sealed record CheckoutCall(byte[]? KeyHash, long OrganizationId, long UserId, string ProductCode, string MachineId, string ProcessId,
    Guid? SessionId, DateTimeOffset Now, DateTimeOffset ExpiresAt)
{
    /// <summary>The id proposed for a new session; a new one replaces it when it names a session that may not be reused.</summary>
    public Guid Id { get; set; } = SessionId ?? Guid.NewGuid();
}

/// <summary>
/// Floating checkout's hot path, batched: the checkouts with an API key that arrive while a batch is in the database go
/// together into the next one, a single statement that runs <c>kit_checkout_decide</c> for each of them
/// in one transaction. No request waits for a timer: a lone checkout is written at once. Each call still
/// decides its seat under its pool's lock with the same rules, and nothing is answered before the batch
/// committed (with the commit's flush, as alone). What a batch saves is what every transaction pays once:
/// its round trip, snapshot, locks on the tables and their indexes, foreign-key locks on the organization
/// and the user, and the commit (measured on the bench machine: half the database's time per checkout at
/// 16 a batch).
/// </summary>
internal sealed class CheckoutBatcher(NpgsqlDataSource db) : BatchWriter<CheckoutCall, CheckoutRow>(db, MaxBatch, Queues, writersPerQueue: 1)
{
    private const int MaxBatch = 64;

    /// <summary>
    /// Queues, each with its own writer. A checkout goes to the queue of its organization (known once a key
    /// has been seen), so that batches in the database at the same time mostly lock different pools and do
    /// not wait for one another.
    /// </summary>
    private const int Queues = 2;

    /// <summary>
    /// The calls, each with what it reads before any pool's lock (its caller, the server's license, the product,
    /// the machine's state: <c>kit_checkout_read_caller</c>, read for all of them at once), in
    /// the order of the pools they lock (organization, product), the same order in every batch: two batches that
    /// need the same pools wait for one another but never deadlock. An unknown key's call locks nothing.
    /// Evaluated one call after the other (a nested loop over the materialized, sorted calls), so each call sees
    /// what the calls before it decided. The calls leave what they grant to the batch: after the
    /// last call, the pool locked last has its count written (<c>kit_checkout_flush</c>; each other pool had it
    /// written when the next one was locked), and the granted sessions are inserted in one statement.
    /// </summary>
    private const string CheckoutBatchSql = """
        WITH calls AS MATERIALIZED (
            SELECT c.*, r AS caller
            FROM unnest(@n::integer[], @hashes::bytea[], @products::text[], @machines::text[], @processes::text[], @ids::uuid[],
                        @existing::uuid[], @now::timestamptz[], @expires::timestamptz[])
                 AS c (n, key_hash, product, machine, process, id, existing, now, expires)
            CROSS JOIN LATERAL kit_checkout_read_caller(c.key_hash, 0, 0, c.product, c.machine) r
            ORDER BY r.key_id IS NULL, r.organization_id, c.product, c.n),
        decided AS MATERIALIZED (
            SELECT c.n, d.*
            FROM calls c
            CROSS JOIN LATERAL kit_checkout_decide(c.caller, true, c.product, c.machine, c.process, c.id, c.existing,
                                                   c.now, c.expires, @clockSkewSeconds, true) d),
        flushed AS (
            SELECT kit_checkout_flush(), count(*) FROM decided),
        sessions AS (
            INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, expires_at)
            SELECT d.session_id, d.caller_org, c.product, d.caller_user, c.machine, c.process, c.now, c.now, c.expires
            FROM decided d JOIN calls c ON c.n = d.n WHERE d.session_pending)
        SELECT d.* FROM decided d, flushed
        """;

    /// <summary>One checkout: its caller read (<c>kit_checkout_read_caller</c>), then decided and written (<c>kit_checkout_decide</c>).</summary>
    private const string CheckoutSql = """
        SELECT d.*
        FROM kit_checkout_read_caller(@keyHash, @organizationId, @userId, @productCode, @machineId) c
        CROSS JOIN LATERAL kit_checkout_decide(c, @keyHash IS NOT NULL, @productCode, @machineId, @processId, @id, @existing,
                                               @now, @expiresAt, @clockSkewSeconds, false) d
        """;

    /// <summary>The organization of each API key seen (a key never changes organization), to pick its queue.</summary>
    private readonly ConcurrentDictionary<byte[], long> _keyOrganizations = new(KeyHashComparer.Instance);

    private const int MaxKnownKeys = 100_000;

    /// <summary>A checkout with an API key joins the next batch of its queue; one on behalf of a member runs alone.</summary>
    public async Task<CheckoutRow> CheckoutAsync(CheckoutCall call)
    {
        if (call.KeyHash is not { } key) return await WriteAloneAsync(call);
        var row = await PostAsync(call);
        // ContainsKey first: Count takes every lock of the dictionary, so only a key not seen yet pays for it.
        if (row.CallerOrg is { } org && !_keyOrganizations.ContainsKey(key) && _keyOrganizations.Count < MaxKnownKeys)
            _keyOrganizations.TryAdd(key, org);
        return row;
    }

    protected override int QueueOf(CheckoutCall call) => _keyOrganizations.TryGetValue(call.KeyHash!, out var org) ? (int)(org % Queues) : 0;

    /// <summary>
    /// Runs a batch and answers its rows in the batch's order. After a failed attempt every call names its own
    /// proposed id as the session to reuse, so a commit that landed but whose answer was lost takes no second seat.
    /// </summary>
    protected override async Task<CheckoutRow[]> WriteBatchAsync(IReadOnlyList<CheckoutCall> batch, int attempt)
    {
        await using var connection = await Db.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(CheckoutBatchSql, connection);
        command.Parameters.Add(ArrayParameter("n", NpgsqlDbType.Integer, batch.Select((_, i) => i).ToArray()));
        command.Parameters.Add(ArrayParameter("hashes", NpgsqlDbType.Bytea, batch.Select(c => c.KeyHash!).ToArray()));
        command.Parameters.Add(ArrayParameter("products", NpgsqlDbType.Text, batch.Select(c => c.ProductCode).ToArray()));
        command.Parameters.Add(ArrayParameter("machines", NpgsqlDbType.Text, batch.Select(c => c.MachineId).ToArray()));
        command.Parameters.Add(ArrayParameter("processes", NpgsqlDbType.Text, batch.Select(c => c.ProcessId).ToArray()));
        command.Parameters.Add(ArrayParameter("ids", NpgsqlDbType.Uuid, batch.Select(c => c.Id).ToArray()));
        command.Parameters.Add(ArrayParameter("existing", NpgsqlDbType.Uuid, batch.Select(c => attempt > 1 ? c.Id : c.SessionId).ToArray()));
        command.Parameters.Add(ArrayParameter("now", NpgsqlDbType.TimestampTz, batch.Select(c => c.Now.UtcDateTime).ToArray()));
        command.Parameters.Add(ArrayParameter("expires", NpgsqlDbType.TimestampTz, batch.Select(c => c.ExpiresAt.UtcDateTime).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<int>("clockSkewSeconds", NpgsqlDbType.Integer) { TypedValue = SeatPools.ClockSkewSeconds });
        var rows = new CheckoutRow[batch.Count];
        await using (var reader = await command.ExecuteReaderAsync())
        {
            var parse = reader.GetRowParser<CheckoutRow>();
            while (await reader.ReadAsync())
            {
                var row = parse(reader);
                rows[row.N] = row;
            }
        }
        return rows.Any(row => row is null)
            ? throw new InvalidOperationException("A batch of checkouts answered fewer rows than it had calls.")
            : rows;
    }

    /// <summary>
    /// One checkout in a statement of its own. Every attempt after the first names the proposed session id as the
    /// session to reuse, so an attempt whose commit landed but whose answer was lost is found again by the next one
    /// instead of taking a second seat. An id already held by a session that may not be reused (ended, or not the
    /// caller's) gives way to a new one.
    /// </summary>
    protected override async Task<CheckoutRow> WriteOneAsync(CheckoutCall call, int attempt)
    {
        var reuse = attempt > 1 ? call.Id : call.SessionId;
        while (true)
        {
            try
            {
                await using var connection = await Db.OpenConnectionAsync();
                return await connection.QuerySingleAsync<CheckoutRow>(CheckoutSql, new
                {
                    keyHash = call.KeyHash, organizationId = call.OrganizationId, userId = call.UserId, productCode = call.ProductCode,
                    machineId = call.MachineId, processId = call.ProcessId, id = call.Id, existing = reuse,
                    now = call.Now.UtcDateTime, expiresAt = call.ExpiresAt.UtcDateTime, clockSkewSeconds = SeatPools.ClockSkewSeconds,
                });
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                throw SeatPools.Busy();
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "floating_session_pkey")
            {
                // The proposed id names a session that could not be reused: the client's ended one, or
                // another caller's. A new id takes its place; the client's id is still named for reuse, since
                // a request of the same client racing this one may have just created it.
                call.Id = Guid.NewGuid();
                reuse = call.SessionId;
            }
        }
    }

    private static NpgsqlParameter<T[]> ArrayParameter<T>(string name, NpgsqlDbType type, T[] values) =>
        new(name, NpgsqlDbType.Array | type) { TypedValue = values };

    /// <summary>Compares API key hashes (SHA-256) by content; their first bytes are already a good hash.</summary>
    private sealed class KeyHashComparer : IEqualityComparer<byte[]>
    {
        public static readonly KeyHashComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key) => key.Length >= 4 ? BitConverter.ToInt32(key, 0) : key.Length;
    }
}
