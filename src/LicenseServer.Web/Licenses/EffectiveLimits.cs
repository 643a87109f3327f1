using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Activation;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Licenses;

/// <summary>The active .lic: its text, as the vendor signed it (every signed grant carries it), and what it says.</summary>
public sealed record ActiveVendorLicense(string Text, LicensePayload Payload);

/// <summary>The limits a product is held to: the vendor's (from the active .lic), and the tighter of those and the server's settings.</summary>
public sealed record LimitsInForce(ProductLimits Effective, ProductLimits Vendor)
{
    public ChurnLimit Churn => new(Effective.ChurnLimit, Effective.ChurnWindowDays);
    public ChurnLimit VendorChurn => new(Vendor.ChurnLimit, Vendor.ChurnWindowDays);
}

/// <summary>
/// The one place that resolves the limits that make seats scarce: the vendor's, as the active .lic signs
/// them, tightened by the server's settings (Kit:Clients), which may never widen them. The .lic is read
/// once and kept: the client API's hot paths add no query. An upload or delete on this node drops it at
/// once; other nodes read it again at most <see cref="ReadEvery"/> later, and a lease is always checked
/// against the very .lic it carries (<see cref="ForLicense"/>).
/// </summary>
public sealed class EffectiveLimits(ServerLicenseRepository licenses, KitOptions options, TimeProvider clock)
{
    public static readonly TimeSpan ReadEvery = TimeSpan.FromSeconds(30);

    private sealed record Snapshot(string? FileText, LicensePayload? License, DateTimeOffset ReadAt);

    private volatile Snapshot? _snapshot;
    private readonly SemaphoreSlim _reading = new(1, 1);
    private long _uploads; // so that a read begun before an upload never outlives it

    private ClientOptions Settings => options.Clients;

    public async ValueTask<LimitsInForce> ForAsync(string productCode) => InForce(VendorFor((await SnapshotAsync()).License, productCode));

    /// <summary>
    /// The limits of a product under <paramref name="fileText"/>, the .lic a lease is signed with: this
    /// node's own copy when it is the same license, so that a node that has not read a new .lic yet never
    /// signs beyond it.
    /// </summary>
    public LimitsInForce ForLicense(string fileText, string productCode)
    {
        var snapshot = _snapshot;
        if (snapshot is null || !string.Equals(snapshot.FileText, fileText, StringComparison.Ordinal))
        {
            // Another .lic than this node's copy (one of them is new): kept for the next lease, but read again at the next use.
            _snapshot = snapshot = new Snapshot(fileText, LicenseVerifier.ReadStored(fileText), DateTimeOffset.MinValue);
        }
        return InForce(VendorFor(snapshot.License, productCode));
    }

    /// <summary>
    /// The session lease of a heartbeat, which names no product: the shortest of the license's floating
    /// products, so that no session is renewed beyond its own product's limit.
    /// </summary>
    public async ValueTask<int> HeartbeatLeaseSecondsAsync()
    {
        var license = (await SnapshotAsync()).License;
        var floating = license?.Products.Where(p => p.Kind == ProductKind.Floating).ToList() ?? [];
        return floating.Count == 0
            ? InForce(VendorFor(license, "")).Effective.SessionLeaseSeconds
            : floating.Min(p => InForce(license!.LimitsFor(p)).Effective.SessionLeaseSeconds);
    }

    /// <summary>
    /// The active .lic as this node keeps it, or null when there is none. <paramref name="issuedAt"/>: when the
    /// .lic that the caller's decision read was issued, if known; another one than this node's copy (a node
    /// replaced it) is read again at once.
    /// </summary>
    public async ValueTask<ActiveVendorLicense?> ActiveLicenseAsync(DateTime? issuedAt = null)
    {
        var snapshot = await SnapshotAsync();
        // The database keeps microseconds, a payload 100 ns ticks: one millisecond apart is another license.
        if (issuedAt is { } at && snapshot.License is { } kept && Math.Abs((kept.IssuedAt.UtcDateTime - at).Ticks) > TimeSpan.TicksPerMillisecond)
        {
            Invalidate();
            snapshot = await SnapshotAsync();
        }
        return snapshot.License is { } license ? new ActiveVendorLicense(snapshot.FileText!, license) : null;
    }

    /// <summary>A .lic was uploaded or deleted on this node: read it again before the next use.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _uploads);
        _snapshot = null;
    }

    /// <summary>Stops the server at start when a setting allows more than the active .lic.</summary>
    public async Task RequireSettingsAllowedAsync()
    {
        Invalidate();
        if ((await SnapshotAsync()).License is { } license && Conflict(license) is { } conflict)
            throw new StartupException(conflict.Sentence("the vendor's license", "") + " " + conflict.Remedy + ".");
    }

    /// <summary>Refuses a .lic that allows less than a setting of this server: otherwise its next start would fail.</summary>
    public void RequireAllows(LicensePayload license)
    {
        if (Conflict(license) is { } conflict)
            throw new LicenseRejectedException(LicenseRejection.LimitsBelowSettings,
                conflict.Sentence("this license", " on this server") + $" {conflict.Remedy} and restart the server, then upload the license again.");
    }

    private LimitsInForce InForce(ProductLimits vendor) => new(new ProductLimits(
        Math.Min(Settings.LeaseDays ?? vendor.LeaseDays, vendor.LeaseDays),
        Math.Min(Settings.MachinesPerUser ?? vendor.MachinesPerUser, vendor.MachinesPerUser),
        Math.Min(Settings.ChurnLimit ?? vendor.ChurnLimit, vendor.ChurnLimit),
        Math.Max(Settings.ChurnWindowDays ?? vendor.ChurnWindowDays, vendor.ChurnWindowDays),
        Math.Min(Settings.SessionLeaseSeconds ?? vendor.SessionLeaseSeconds, vendor.SessionLeaseSeconds)), vendor);

    private static ProductLimits VendorFor(LicensePayload? license, string productCode) =>
        license?.Product(productCode) is { } product ? license.LimitsFor(product) : ProductLimits.Resolve(null, license?.Limits);

    /// <summary>A setting that allows more than the vendor's limit for a product, in the products' order.</summary>
    private sealed record SettingConflict(string Setting, int Value, string Allows, string Product, bool Longer)
    {
        public string Remedy => Longer ? "Raise the setting or remove it" : "Lower the setting or remove it";

        public string Sentence(string license, string where) =>
            $"Kit:Clients:{Setting} is {Value}{where}, but {license} {Allows} for {Product}.";
    }

    /// <summary>
    /// The first setting that the license does not allow. The limits of activations concern per-user
    /// products, the session lease floating ones; only those are compared.
    /// </summary>
    private SettingConflict? Conflict(LicensePayload license)
    {
        foreach (var product in license.Products)
        {
            var vendor = license.LimitsFor(product);
            SettingConflict?[] found = product.Kind == ProductKind.PerUser
                ?
                [
                    Settings.LeaseDays is { } days && days > vendor.LeaseDays
                        ? new("LeaseDays", days, $"allows at most {vendor.LeaseDays} days", product.Code, false) : null,
                    Settings.MachinesPerUser is { } machines && machines > vendor.MachinesPerUser
                        ? new("MachinesPerUser", machines, $"allows at most {vendor.MachinesPerUser} machines per user", product.Code, false) : null,
                    Settings.ChurnLimit is { } churn && churn > vendor.ChurnLimit
                        ? new("ChurnLimit", churn, $"allows at most {vendor.ChurnLimit} activations per user", product.Code, false) : null,
                    Settings.ChurnWindowDays is { } window && window < vendor.ChurnWindowDays
                        ? new("ChurnWindowDays", window, $"counts activations over at least {vendor.ChurnWindowDays} days", product.Code, true) : null,
                ]
                :
                [
                    Settings.SessionLeaseSeconds is { } seconds && seconds > vendor.SessionLeaseSeconds
                        ? new("SessionLeaseSeconds", seconds, $"allows at most {vendor.SessionLeaseSeconds} seconds", product.Code, false) : null,
                ];
            if (found.FirstOrDefault(c => c is not null) is { } conflict) return conflict;
        }
        return null;
    }

    /// <summary>
    /// This node's copy of the .lic, read again when older than <see cref="ReadEvery"/>. One caller reads
    /// while the others go on with the copy they have.
    /// </summary>
    private async ValueTask<Snapshot> SnapshotAsync()
    {
        var snapshot = _snapshot;
        if (snapshot is not null && (clock.GetUtcNow() - snapshot.ReadAt).Duration() < ReadEvery) return snapshot;
        if (snapshot is not null && !await _reading.WaitAsync(0)) return snapshot;
        if (snapshot is null) await _reading.WaitAsync();
        try
        {
            if (_snapshot is { } fresh && (clock.GetUtcNow() - fresh.ReadAt).Duration() < ReadEvery) return fresh;
            var uploads = Interlocked.Read(ref _uploads);
            ServerLicenseRow? row;
            try
            {
                row = await licenses.GetAsync();
            }
            catch (Exception e) when (snapshot is not null && Data.Database.DatabaseFaults.IsUnavailable(e))
            {
                // The database is away: the copy this node has still holds; the next call tries again.
                return snapshot;
            }
            var read = new Snapshot(row?.FileText, row is null ? null : LicenseVerifier.ReadStored(row.FileText), clock.GetUtcNow());
            if (Interlocked.Read(ref _uploads) == uploads) _snapshot = read;
            return read;
        }
        finally
        {
            _reading.Release();
        }
    }
}
