using System.Globalization;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Activation;

/// <summary>What kit-vendor needs to issue a license: its parameters.</summary>
public sealed record LicenseOrder(
    string Customer,
    string? CompanyId,
    string? InstallationId,
    string? ServerPublicKey,
    DateTimeOffset ValidFrom,
    DateTimeOffset? ValidUntil,
    IReadOnlyList<LicensedProduct> Products,
    VendorLimits? Limits = null);

public static class LicenseIssuer
{
    public const string VendorName = "Kit Software";

    public static LicenseFile Issue(LicenseOrder order, PrivateKey vendorKey, DateTimeOffset issuedAt, Guid? licenseId = null)
    {
        if (string.IsNullOrWhiteSpace(order.Customer)) throw new ArgumentException("A license needs a customer name.");
        if (order.Products.Count == 0) throw new ArgumentException("A license needs at least one product.");
        if (order.ValidUntil is { } until && until <= order.ValidFrom)
            throw new ArgumentException("The license must end after it starts.");
        var payload = new LicensePayload(licenseId ?? Guid.NewGuid(), VendorName, order.Customer.Trim(), order.CompanyId,
            order.InstallationId, order.ServerPublicKey, issuedAt, order.ValidFrom, order.ValidUntil, order.Products, order.Limits);
        return LicenseFile.Sign(payload, vendorKey);
    }

    /// <summary>
    /// Parses <c>CODE:kind:quota:subscription[:name]</c>, e.g. <c>KSE:per-user:10:annual</c> or
    /// <c>KRE:floating:5:perpetual:Runtime Engine</c>. Annual products expire with the license.
    /// </summary>
    public static LicensedProduct ParseProduct(string spec, DateTimeOffset? licenseEnd)
    {
        var parts = spec.Split(':', 5);
        if (parts.Length < 4)
            throw new FormatException($"\"{spec}\" is not a product: write CODE:kind:quota:subscription, e.g. KSE:per-user:10:annual.");
        var code = parts[0].Trim().ToUpperInvariant();
        if (code.Length == 0 || !code.All(char.IsAsciiLetterOrDigit))
            throw new FormatException($"\"{parts[0]}\" is not a product code: use letters and digits, e.g. KSE.");
        var kind = ProductWords.KindOf(parts[1].Trim().ToLowerInvariant())
            ?? throw new FormatException($"\"{parts[1]}\" is not a product kind: use per-user or floating.");
        if (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var quota) || quota < 1)
            throw new FormatException($"\"{parts[2]}\" is not a quota: use a whole number of seats, 1 or more.");
        var subscription = ProductWords.SubscriptionOf(parts[3].Trim().ToLowerInvariant())
            ?? throw new FormatException($"\"{parts[3]}\" is not a subscription: use annual or perpetual.");
        if (subscription == SubscriptionKind.Annual && licenseEnd is null)
            throw new FormatException($"{code} is annual, so the license needs an end date (--valid-until or --days).");
        var name = parts.Length == 5 && !string.IsNullOrWhiteSpace(parts[4]) ? parts[4].Trim() : DefaultName(code, kind);
        return new LicensedProduct(code, name, kind, quota, subscription,
            subscription == SubscriptionKind.Annual ? licenseEnd : null);
    }

    private static string DefaultName(string code, ProductKind kind) => code switch
    {
        "KSE" => "Studio Enterprise",
        "KRE" => "Runtime Engine",
        _ => $"{code} ({kind.Word()})",
    };
}
