namespace LicenseServer.Client;

/// <summary>
/// A checked-out floating seat (C2). It heartbeats on a timer at the interval the server asks for, and
/// is released when disposed. <see cref="Lost"/> is set when a heartbeat is refused (session_expired).
/// </summary>
public sealed class FloatingSession : IAsyncDisposable
{
    private readonly KitClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _heartbeats;
    private int _disposed;

    internal FloatingSession(KitClient client, Guid id, TimeSpan interval, DateTimeOffset expiresAt, bool autoHeartbeat)
    {
        _client = client;
        Id = id;
        HeartbeatInterval = interval;
        ExpiresAt = expiresAt;
        _heartbeats = autoHeartbeat ? HeartbeatLoopAsync() : Task.CompletedTask;
    }

    public Guid Id { get; }
    public TimeSpan HeartbeatInterval { get; }
    public DateTimeOffset ExpiresAt { get; private set; }
    public KitApiException? Lost { get; private set; }

    public async Task HeartbeatAsync(CancellationToken cancel = default) => ExpiresAt = await _client.HeartbeatAsync(Id, cancel);

    private async Task HeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                try
                {
                    await HeartbeatAsync(_stop.Token);
                }
                catch (KitApiException e) when (e.Code == "session_expired")
                {
                    Lost = e;
                    return;
                }
                catch (Exception e) when (e is HttpRequestException or KitApiException or TaskCanceledException && !_stop.IsCancellationRequested)
                {
                    // A missed beat is retried at the next tick; the lease's grace period covers short outages.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops the heartbeats and releases the seat; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stop.CancelAsync();
        await _heartbeats;
        _stop.Dispose();
        try
        {
            await _client.ReleaseAsync(Id);
        }
        catch (Exception e) when (e is HttpRequestException or KitApiException or TaskCanceledException)
        {
            // The server frees the seat when the lease runs out.
        }
    }
}
