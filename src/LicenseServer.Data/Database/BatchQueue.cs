using System.Threading.Channels;

namespace LicenseServer.Data.Database;

/// <summary>
/// Calls that arrive while a batch is being written go together into the next one. No call waits for a
/// timer: a lone call is written at once, and under load a batch holds whatever queued meanwhile, up to
/// <c>maxBatch</c>. Each writer has one batch in the database at a time.
/// </summary>
/// <param name="write">Writes a batch and completes each of its calls.</param>
/// <param name="fail">Completes a call of a batch whose <paramref name="write"/> threw.</param>
public sealed class BatchQueue<T> : IAsyncDisposable
{
    private readonly int _maxBatch;
    private readonly Func<List<T>, Task> _write;
    private readonly Action<T, Exception> _fail;
    private readonly Channel<T> _queue;
    private readonly Task[] _writers;

    public BatchQueue(int maxBatch, int writers, Func<List<T>, Task> write, Action<T, Exception> fail)
    {
        _maxBatch = maxBatch;
        _write = write;
        _fail = fail;
        _queue = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = writers == 1 });
        // The writers serve every caller, not the request that happened to create the queue: they take nothing of
        // its execution context (such as the address the audit log records, AuditCaller).
        using (ExecutionContext.SuppressFlow()) _writers = Enumerable.Range(0, writers).Select(_ => Task.Run(WriteAsync)).ToArray();
    }

    /// <summary>False once the queue is disposed: the call will not be written.</summary>
    public bool TryPost(T call) => _queue.Writer.TryWrite(call);

    private async Task WriteAsync()
    {
        var batch = new List<T>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var call)) batch.Add(call);
            if (batch.Count == 0) continue;
            try
            {
                await _write(batch);
            }
            catch (Exception e)
            {
                foreach (var call in batch) _fail(call, e);
            }
        }
    }

    /// <summary>Writes what is queued, then stops the writers.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }
}
