using System.Diagnostics.Metrics;
using LicenseServer.Data.Metrics;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// The seat gauges. Their figures are counted in the database at each scrape (<see cref="RefreshAsync"/>, run
/// before the exporter collects), so they are the same on every node and a release shows at the next scrape;
/// when the database does not answer, kit_database_up is 0 and the seat series are missing rather than stale.
/// </summary>
public sealed class SeatGauges(SeatCountRepository seats, TimeProvider clock, ILogger<SeatGauges> logger)
{
    /// <summary>How long a scrape waits for the counts before it answers without them.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private volatile SeatCounts? _counts;

    public async Task RefreshAsync(CancellationToken aborted)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            timeout.CancelAfter(Timeout);
            _counts = await seats.CountAsync(clock.GetUtcNow(), timeout.Token);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException && !aborted.IsCancellationRequested)
        {
            // The node's own figures are still worth reading; kit_database_up says why the seats are missing.
            _counts = null;
            logger.LogWarning("Metrics: the seat counts could not be read: {Reason}", e.Message);
        }
    }

    internal void CreateGauges(Meter meter)
    {
        meter.CreateObservableGauge("kit_database_up", () => _counts is null ? 0 : 1, null,
            "1 when the database answered this scrape's seat counts, else 0 (and the seat metrics are missing).");
        meter.CreateObservableGauge("kit_seats_in_use", () => Shares(s => s.InUse), null,
            "Seats in use per organization and product (assignments, leases still valid offline, offline licenses, live floating sessions), "
            + "counted in the database at scrape time: the same on every node.");
        meter.CreateObservableGauge("kit_seats_share", () => Shares(s => s.Quota), null,
            "Seats of each product the server admin gave each organization (its share of the license's quota).");
        meter.CreateObservableGauge("kit_license_seats",
            () => (_counts?.Licensed ?? []).Select(p => new Measurement<long>(p.Quota, Tag("product", p.ProductCode))), null,
            "Seats of each product in the server's license.");
        meter.CreateObservableGauge("kit_license_valid_until_seconds",
            () => _counts?.LicenseValidUntil is { } until ? [new Measurement<long>(until.ToUnixTimeSeconds())] : Array.Empty<Measurement<long>>(), "s",
            "When the server's license ends, in Unix seconds; missing when no license is active or it never ends.");
        meter.CreateObservableGauge("kit_organization_info",
            () => (_counts?.Shares ?? []).DistinctBy(s => s.OrganizationId)
                .Select(s => new Measurement<int>(1, Organization(s), Tag("name", s.OrganizationName))), null,
            "The name of each organization with a share, to join with the seat metrics by organization_id; always 1.");
    }

    /// <summary>The most series one seat gauge may have (organizations × products); the exporter keeps room for them.</summary>
    public const int MaxSeries = 20_000;

    private IEnumerable<Measurement<long>> Shares(Func<ShareCount, long> value) =>
        (_counts?.Shares ?? []).Select(s => new Measurement<long>(value(s), Organization(s), Tag("product", s.ProductCode)));

    private static KeyValuePair<string, object?> Organization(ShareCount share) => Tag("organization_id", share.OrganizationId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static KeyValuePair<string, object?> Tag(string name, string value) => new(name, value);
}
