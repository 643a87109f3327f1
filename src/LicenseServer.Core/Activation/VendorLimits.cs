using System.Text.Json.Serialization;

namespace LicenseServer.Core.Activation;

/// <summary>
/// The limits that make seats scarce, as the vendor signs them in a .lic: license-wide, or for one
/// product. A field left out takes the license's value, then the default. A server's own settings may
/// only tighten them, and every file the server signs obeys them.
/// </summary>
public sealed record VendorLimits(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? LeaseDays = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? MachinesPerUser = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ChurnLimit = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ChurnWindowDays = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? SessionLeaseSeconds = null);

/// <summary>
/// The limits in force for one product: <see cref="LeaseDays"/>, the longest a per-user lease may be
/// checked offline; <see cref="MachinesPerUser"/>; at most <see cref="ChurnLimit"/> machine activations
/// per user in <see cref="ChurnWindowDays"/> days; <see cref="SessionLeaseSeconds"/>, the longest a
/// floating session (and its signed grant) lasts after a heartbeat.
/// </summary>
public sealed record ProductLimits(int LeaseDays, int MachinesPerUser, int ChurnLimit, int ChurnWindowDays, int SessionLeaseSeconds)
{
    /// <summary>What a .lic without limits allows: the values servers used before limits were signed.</summary>
    public static readonly ProductLimits Defaults = new(LeaseDays: 7, MachinesPerUser: 2, ChurnLimit: 10, ChurnWindowDays: 30, SessionLeaseSeconds: 330);

    public static ProductLimits Resolve(VendorLimits? product, VendorLimits? license) => new(
        product?.LeaseDays ?? license?.LeaseDays ?? Defaults.LeaseDays,
        product?.MachinesPerUser ?? license?.MachinesPerUser ?? Defaults.MachinesPerUser,
        product?.ChurnLimit ?? license?.ChurnLimit ?? Defaults.ChurnLimit,
        product?.ChurnWindowDays ?? license?.ChurnWindowDays ?? Defaults.ChurnWindowDays,
        product?.SessionLeaseSeconds ?? license?.SessionLeaseSeconds ?? Defaults.SessionLeaseSeconds);
}
