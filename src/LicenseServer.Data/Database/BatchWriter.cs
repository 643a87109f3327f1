using Npgsql;

namespace LicenseServer.Data.Database;

/// <summary>
/// The client API's hot writes, batched: the calls that arrive while a batch is in the database go together into
/// the next one (<see cref="BatchQueue{T}"/>), written in one transaction and answered only after its commit. One
/// policy for what goes wrong, for every batched write (checkouts, renewals, heartbeats, releases):
/// <list type="bullet">
/// <item>a fault worth repeating (the database away, a deadlock) repeats the batch, as <see cref="DatabaseFaults.RetryAsync"/> does;</item>
/// <item>any other statement error rolled back every call of the batch: each runs again alone (<see cref="WriteOneAsync"/>),
/// and gets the answer it would have had without batches;</item>
/// <item>anything else, a fault worth repeating that persists among them, fails the calls of the batch.</item>
/// </list>
/// Every batched write is therefore safe to repeat.
/// </summary>
/// <typeparam name="TCall">One call: what it writes.</typeparam>
/// <typeparam name="TResult">What the call is answered.</typeparam>
public abstract class BatchWriter<TCall, TResult> : IAsyncDisposable
{
    private sealed record Pending(TCall Call, TaskCompletionSource<TResult> Done);

    /// <summary>The database the batches are written to.</summary>
    protected NpgsqlDataSource Db { get; }
    private readonly BatchQueue<Pending>[] _queues;

    /// <param name="maxBatch">At most this many calls a batch.</param>
    /// <param name="queues">Queues, each with its own writer (<see cref="QueueOf"/> picks one).</param>
    /// <param name="writersPerQueue">Batches of one queue in the database at once.</param>
    protected BatchWriter(NpgsqlDataSource db, int maxBatch, int queues, int writersPerQueue)
    {
        Db = db;
        _queues = Enumerable.Range(0, queues)
            .Select(_ => new BatchQueue<Pending>(maxBatch, writersPerQueue, WriteAsync, (pending, e) => pending.Done.TrySetException(e))).ToArray();
    }

    /// <summary>Writes the calls, in this order, in one transaction; answers each call's result in the same order. <paramref name="attempt"/> counts from 1.</summary>
    protected abstract Task<TResult[]> WriteBatchAsync(IReadOnlyList<TCall> calls, int attempt);

    /// <summary>Writes one call of a batch that failed, alone: by default, as a batch of one.</summary>
    protected virtual async Task<TResult> WriteOneAsync(TCall call, int attempt) => (await WriteBatchAsync([call], attempt))[0];

    /// <summary>The queue of a call, from 0; calls of one queue are batched together.</summary>
    protected virtual int QueueOf(TCall call) => 0;

    /// <summary>The order a batch's calls are written in (the order they lock rows in, the same in every batch); null keeps their arrival order.</summary>
    protected virtual Comparison<TCall>? LockOrder => null;

    /// <summary>The call, written with the next batch of its queue.</summary>
    protected Task<TResult> PostAsync(TCall call)
    {
        var pending = new Pending(call, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queues[QueueOf(call)].TryPost(pending)) pending.Done.SetException(new ObjectDisposedException(GetType().Name));
        return pending.Done.Task;
    }

    /// <summary>The call, written now in a transaction of its own, under the same policy.</summary>
    protected Task<TResult> WriteAloneAsync(TCall call) => DatabaseFaults.RetryAsync(Db, attempt => WriteOneAsync(call, attempt));

    private async Task WriteAsync(List<Pending> batch)
    {
        if (LockOrder is { } order) batch.Sort((a, b) => order(a.Call, b.Call));
        TResult[] results;
        try
        {
            var calls = batch.ConvertAll(p => p.Call);
            results = await DatabaseFaults.RetryAsync(Db, attempt => WriteBatchAsync(calls, attempt));
        }
        catch (PostgresException e) when (!DatabaseFaults.IsWorthRepeating(e))
        {
            // One call's statement error (an id held by another session, a lock timeout) rolled back the whole
            // batch. The calls run alone meanwhile, each in the way a writer handles such an error for one call;
            // the queue goes on with the next batch.
            foreach (var pending in batch) _ = CompleteAloneAsync(pending);
            return;
        }
        catch (Exception e)
        {
            foreach (var pending in batch) pending.Done.TrySetException(e);
            return;
        }
        if (results.Length != batch.Count) throw new InvalidOperationException($"A batch of {batch.Count} calls answered {results.Length} results.");
        for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
    }

    private async Task CompleteAloneAsync(Pending pending)
    {
        try
        {
            pending.Done.TrySetResult(await WriteAloneAsync(pending.Call));
        }
        catch (Exception e)
        {
            pending.Done.TrySetException(e);
        }
    }

    /// <summary>Writes what is queued, then stops the writers.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues) await queue.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
