using LicenseServer.Data.Licenses;
using Npgsql;

namespace LicenseServer.Bench.Data;

public sealed record Violation(DateTimeOffset At, string Product, long? OrganizationId, long InUse, long Quota);

/// <summary>
/// The over-allocation check: every second, and once at the end, each organization's seats in use against
/// its share, and each product's seats in use across organizations against the license's quota. Seats in use
/// are counted by the server's own code (<see cref="LicenseRepository.AllocationsAsync"/>, which asks the
/// seat ledger), so the check cannot drift from the definition the server enforces.
/// </summary>
public sealed class SeatAudit(NpgsqlDataSource db)
{
    private readonly LicenseRepository _licenses = new(db, TimeProvider.System);
    private readonly List<Violation> _violations = [];
    private int _samples;
    private long _maxInUse;
    private int _failures;

    public int Samples => Volatile.Read(ref _samples);
    public long MaxFloatingInUse => Interlocked.Read(ref _maxInUse);
    public int FailedSamples => Volatile.Read(ref _failures);
    public IReadOnlyList<Violation> Violations { get { lock (_violations) return [.. _violations]; } }

    public async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await SampleAsync();
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    Interlocked.Increment(ref _failures); // e.g. the server stopping its cluster under us; the final sample decides
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async Task SampleAsync()
    {
        var rows = await _licenses.AllocationsAsync();
        var now = DateTimeOffset.UtcNow;
        var found = new List<Violation>();
        foreach (var row in rows)
            if (row.InUse > row.Quota) found.Add(new Violation(now, row.Code, row.OrganizationId, row.InUse, row.Quota));
        foreach (var product in rows.GroupBy(r => (r.Code, r.LicenseQuota)))
        {
            long inUse = product.Sum(r => (long)r.InUse);
            if (inUse > product.Key.LicenseQuota) found.Add(new Violation(now, product.Key.Code, null, inUse, product.Key.LicenseQuota));
            if (product.Key.Code == Server.KitServerProcess.FloatingProduct && inUse > Interlocked.Read(ref _maxInUse))
                Interlocked.Exchange(ref _maxInUse, inUse);
        }
        lock (_violations) _violations.AddRange(found);
        Interlocked.Increment(ref _samples);
    }
}
