using Dapper;
using LicenseServer.Data.Database;
using Npgsql;
using NpgsqlTypes;

namespace LicenseServer.IntegrationTests.Database;

/// <summary>
/// The one policy of every batched write (checkouts, renewals, heartbeats, releases), against a real PostgreSQL: a
/// fault worth repeating repeats the batch, one call's statement error leaves every other call its own answer, and
/// nothing is written twice.
/// </summary>
public class BatchWriterTests
{
    /// <summary>Inserts each call's number into <c>written</c> in one statement per batch; answers each call its number.</summary>
    private sealed class Inserts(NpgsqlDataSource db, Func<int, Task>? beforeAttempt = null) : BatchWriter<int, int>(db, maxBatch: 64, queues: 1, writersPerQueue: 1)
    {
        public int Batches;
        public int LargestBatch;

        public Task<int> InsertAsync(int n) => PostAsync(n);

        protected override async Task<int[]> WriteBatchAsync(IReadOnlyList<int> calls, int attempt)
        {
            Interlocked.Increment(ref Batches);
            LargestBatch = Math.Max(LargestBatch, calls.Count);
            if (beforeAttempt is not null) await beforeAttempt(attempt);
            await using var command = Db.CreateCommand("INSERT INTO written (n) SELECT unnest(@ns) RETURNING n");
            command.Parameters.Add(new NpgsqlParameter<int[]>("ns", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = calls.ToArray() });
            var written = new HashSet<int>();
            await using (var reader = await command.ExecuteReaderAsync())
                while (await reader.ReadAsync()) written.Add(reader.GetInt32(0));
            return calls.Select(n => written.Contains(n) ? n : -1).ToArray();
        }
    }

    private static async Task<NpgsqlDataSource> DatabaseAsync()
    {
        var db = NpgsqlDataSource.Create(PostgresFixture.CreateDatabase());
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("CREATE TABLE written (n integer PRIMARY KEY)");
        return db;
    }

    private static async Task<int[]> WrittenAsync(NpgsqlDataSource db)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<int>("SELECT n FROM written ORDER BY n")).ToArray();
    }

    [Test]
    public async Task One_calls_statement_error_leaves_every_other_call_of_its_batch_written_and_answered()
    {
        await using var db = await DatabaseAsync();
        await using (var connection = await db.OpenConnectionAsync()) await connection.ExecuteAsync("INSERT INTO written VALUES (13)");
        await using var writer = new Inserts(db);

        var calls = Enumerable.Range(1, 40).Select(writer.InsertAsync).ToList(); // posted at once: they queue behind the first
        await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { })));

        Assert.That(writer.LargestBatch, Is.GreaterThan(1), "calls that arrived together went in one batch");
        var failed = calls[12].Exception?.InnerException as PostgresException;
        Assert.That(failed?.SqlState, Is.EqualTo(PostgresErrorCodes.UniqueViolation), "the call whose own statement failed is told why");
        for (var n = 1; n <= 40; n++)
            if (n != 13) Assert.That(await calls[n - 1], Is.EqualTo(n), $"call {n} has its own answer");
        Assert.That(await WrittenAsync(db), Is.EqualTo(Enumerable.Range(1, 40).ToArray()), "each written once");
    }

    [TestCase(PostgresErrorCodes.DeadlockDetected)]
    [TestCase(PostgresErrorCodes.AdminShutdown)]
    public async Task A_fault_worth_repeating_repeats_the_batch_and_writes_it_once(string sqlState)
    {
        await using var db = await DatabaseAsync();
        var failures = 0;
        await using var writer = new Inserts(db, async attempt =>
        {
            if (attempt > 1) return;
            Interlocked.Increment(ref failures);
            await using var connection = await db.OpenConnectionAsync();
            await connection.ExecuteAsync($"DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{sqlState}'; END $$");
        });

        var answers = await Task.WhenAll(Enumerable.Range(1, 10).Select(writer.InsertAsync));

        Assert.That(answers, Is.EqualTo(Enumerable.Range(1, 10).ToArray()));
        Assert.That(failures, Is.GreaterThan(0), "the fault happened");
        Assert.That(await WrittenAsync(db), Is.EqualTo(Enumerable.Range(1, 10).ToArray()), "repeated, not doubled");
    }

    [Test]
    public async Task A_fault_that_persists_fails_its_calls_after_the_last_attempt()
    {
        await using var db = await DatabaseAsync();
        await using var writer = new Inserts(db, async _ =>
        {
            await using var connection = await db.OpenConnectionAsync();
            await connection.ExecuteAsync("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40P01'; END $$");
        });

        var refused = Assert.ThrowsAsync<PostgresException>(() => writer.InsertAsync(1))!;

        Assert.That(refused.SqlState, Is.EqualTo(PostgresErrorCodes.DeadlockDetected));
        Assert.That(writer.Batches, Is.EqualTo(DatabaseFaults.Attempts), "tried as often as the policy allows, no more");
        Assert.That(await WrittenAsync(db), Is.Empty);
    }
}
