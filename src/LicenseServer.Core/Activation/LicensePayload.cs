using System.Text.Json.Serialization;

namespace LicenseServer.Core.Activation;

[JsonConverter(typeof(JsonStringEnumConverter<ProductKind>))]
public enum ProductKind
{
    [JsonStringEnumMemberName("per-user")] PerUser,
    [JsonStringEnumMemberName("floating")] Floating,
}

[JsonConverter(typeof(JsonStringEnumConverter<SubscriptionKind>))]
public enum SubscriptionKind
{
    [JsonStringEnumMemberName("annual")] Annual,
    [JsonStringEnumMemberName("perpetual")] Perpetual,
}

/// <summary>One product a license grants: e.g. KSE per-user for 10 users, annual until a date.</summary>
public sealed record LicensedProduct(
    string Code,
    string Name,
    ProductKind Kind,
    int Quota,
    SubscriptionKind Subscription,
    DateTimeOffset? ExpiresAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] VendorLimits? Limits = null);

/// <summary>
/// What the vendor signs. <see cref="InstallationId"/> and <see cref="ServerPublicKey"/> bind the
/// license to one installation and vouch for that installation's server key; both are null
/// for a license issued from parameters without a request.
/// </summary>
public sealed record LicensePayload(
    Guid LicenseId,
    string Vendor,
    string Customer,
    string? CompanyId,
    string? InstallationId,
    string? ServerPublicKey,
    DateTimeOffset IssuedAt,
    DateTimeOffset ValidFrom,
    DateTimeOffset? ValidUntil,
    IReadOnlyList<LicensedProduct> Products,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] VendorLimits? Limits = null)
{
    /// <summary>The limits that hold for a product: its own where it has them, else the license's, else the defaults.</summary>
    public ProductLimits LimitsFor(LicensedProduct product) => ProductLimits.Resolve(product.Limits, Limits);

    public LicensedProduct? Product(string code) => Products.FirstOrDefault(p => string.Equals(p.Code, code, StringComparison.Ordinal));
}
