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

/// <summary>
/// The words of a product's kind and subscription, as the license file, the database and the vendor's command line
/// write them (<c>per-user</c>, <c>floating</c>; <c>annual</c>, <c>perpetual</c>): the one place that turns one into the other.
/// </summary>
public static class ProductWords
{
    public static string Word(this ProductKind kind) => kind == ProductKind.PerUser ? "per-user" : "floating";

    public static string Word(this SubscriptionKind subscription) => subscription == SubscriptionKind.Annual ? "annual" : "perpetual";

    /// <summary>The kind a word names; null for a word that names none.</summary>
    public static ProductKind? KindOf(string word) => word switch
    {
        "per-user" => ProductKind.PerUser,
        "floating" => ProductKind.Floating,
        _ => null,
    };

    /// <summary>The subscription a word names; null for a word that names none.</summary>
    public static SubscriptionKind? SubscriptionOf(string word) => word switch
    {
        "annual" => SubscriptionKind.Annual,
        "perpetual" => SubscriptionKind.Perpetual,
        _ => null,
    };

    /// <summary>The kind of a word stored by this server, which names one.</summary>
    public static ProductKind Kind(string word) => KindOf(word) ?? throw new FormatException($"\"{word}\" is not a product kind.");

    /// <summary>The subscription of a word stored by this server, which names one.</summary>
    public static SubscriptionKind Subscription(string word) => SubscriptionOf(word) ?? throw new FormatException($"\"{word}\" is not a subscription.");
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
