using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Licenses;

/// <summary>What every payload the server signs says: which kind of file, for what, for which machine, from when until when, by which server.</summary>
public interface IServerSignedPayload
{
    string? FileKind { get; }
    string ProductCode { get; }
    ProductKind Kind { get; }
    string MachineId { get; }
    DateTimeOffset IssuedAt { get; }
    DateTimeOffset ExpiresAt { get; }
    string InstallationId { get; }
    string ServerPublicKey { get; }
}

/// <summary>
/// A file the server signs: the payload signed by the server key, plus the vendor's .lic that
/// vouches for that key, so a client that trusts only the vendor key verifies the whole chain offline.
/// The kind is in the envelope and, signed, in the payload, so a lease is never taken for an offline
/// license or a floating grant, nor the other way round. Whoever holds the server key (the customer)
/// can sign only within what the embedded .lic grants: its products, their kinds, its dates, its limits.
/// </summary>
public static class ServerSignedFile
{
    private sealed record Envelope(
        [property: JsonPropertyName("kind")] string? Kind,
        [property: JsonPropertyName("format")] int? Format,
        [property: JsonPropertyName("alg")] string? Alg,
        [property: JsonPropertyName("payload")] string? Payload,
        [property: JsonPropertyName("signature")] string? Signature,
        [property: JsonPropertyName("vendorLicense")] string? VendorLicense);

    public static string Sign<T>(string kind, T payload, PrivateKey serverKey, string vendorLicenseText) where T : IServerSignedPayload
    {
        if (payload.FileKind != kind) throw new ArgumentException($"A {Name(kind)} must say it is one in its payload.", nameof(payload));
        var bytes = JsonSerializer.SerializeToUtf8Bytes(payload, LicenseJson.Options);
        var envelope = new Envelope(kind, LicenseFile.CurrentFormat, LicenseFile.Ed25519Alg, Convert.ToBase64String(bytes),
            Convert.ToBase64String(serverKey.Sign(bytes)), vendorLicenseText);
        return JsonSerializer.Serialize(envelope, LicenseJson.Options) + "\n";
    }

    /// <summary>
    /// Verifies with the vendor keys alone, in this order: the envelope; the embedded vendor license's
    /// signature; that it vouches for the server key; the server's signature over the payload; the kind
    /// signed in the payload; that the payload stays within the vendor license (product and its kind,
    /// dates, limits); then the machine and the expiry.
    /// </summary>
    public static T Verify<T>(string kind, ReadOnlySpan<byte> fileBytes, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null)
        where T : class, IServerSignedPayload
    {
        var what = Name(kind);
        Envelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<Envelope>(fileBytes, LicenseJson.Options);
        }
        catch (JsonException)
        {
            throw Reject(LicenseRejection.Unreadable, $"The file is not a Kit {what}: it is not a JSON license document.");
        }
        if (envelope is null || envelope.Kind != kind || envelope is not { Format: not null, Alg: not null, Payload: not null, Signature: not null, VendorLicense: not null })
            throw Reject(LicenseRejection.Unreadable, $"The file is not a Kit {what}, or a required part of it is missing.");
        if (envelope.Format != LicenseFile.CurrentFormat)
            throw Reject(LicenseRejection.UnsupportedFormat, $"This {what} has format version {envelope.Format}; this client reads version {LicenseFile.CurrentFormat}.");
        if (envelope.Alg != LicenseFile.Ed25519Alg)
            throw Reject(LicenseRejection.UnsupportedAlgorithm, $"The {what} is signed with \"{envelope.Alg}\"; only Ed25519 is accepted.");

        var vendor = new LicenseVerifier(vendorKeys, clock).VerifySignature(LicenseFile.Parse(envelope.VendorLicense));
        if (vendor.ServerPublicKey is null)
            throw Reject(LicenseRejection.NotVouched, $"The vendor license inside this file does not vouch for any server key, so the {what} cannot be trusted.");
        var serverKey = PublicKey.FromBase64(vendor.ServerPublicKey);

        byte[] payloadBytes, signature;
        try
        {
            payloadBytes = Convert.FromBase64String(envelope.Payload);
            signature = Convert.FromBase64String(envelope.Signature);
        }
        catch (FormatException)
        {
            throw Reject(LicenseRejection.Unreadable, $"The {what}'s payload or signature is not valid base64.");
        }
        // The claimed key is read before the signature is checked only to say precisely why the file is refused.
        if (TryRead<T>(payloadBytes)?.ServerPublicKey is { } claimed && claimed != vendor.ServerPublicKey)
            throw Reject(LicenseRejection.NotVouched, $"The {what} was signed by a server key that the vendor's license does not vouch for: it comes from another server.");
        if (!serverKey.Verify(payloadBytes, signature))
            throw Reject(LicenseRejection.BadSignature, $"The {what}'s signature does not match its content, or it was not signed by the server the vendor vouches for: the file was changed or comes from another server.");

        T payload;
        try
        {
            payload = JsonSerializer.Deserialize<T>(payloadBytes, LicenseJson.Options) ?? throw Reject(LicenseRejection.InvalidPayload, $"The {what} is signed but empty.");
        }
        catch (JsonException)
        {
            throw Reject(LicenseRejection.InvalidPayload, $"The {what} is signed but its content is not a {what}.");
        }
        CheckKind(kind, payload);
        if (payload.ServerPublicKey != vendor.ServerPublicKey || payload.InstallationId != vendor.InstallationId)
            throw Reject(LicenseRejection.NotVouched, $"The {what} names another server than the one the vendor vouches for.");
        var now = clock.GetUtcNow();
        CheckWithinVendorLicense(kind, payload, vendor, now);
        if (machineId is not null && !string.Equals(payload.MachineId, machineId, StringComparison.Ordinal))
            throw Reject(LicenseRejection.OtherMachine, $"This {what} is for machine {payload.MachineId}, not for this machine ({machineId}).");
        if (payload.ExpiresAt <= now)
            throw Reject(LicenseRejection.Expired, $"This {what} expired on {LicenseVerifier.Format(payload.ExpiresAt)}. Ask your administrator for a new one, or activate again.");
        return payload;
    }

    /// <summary>
    /// The kind signed in the payload must be the one asked for. Leases and offline licenses signed before
    /// the kind was part of the payload have none; they are taken as the kind asked for. Floating grants
    /// always had it.
    /// </summary>
    private static void CheckKind(string kind, IServerSignedPayload payload)
    {
        if (payload.FileKind == kind || (payload.FileKind is null && kind != FloatingGrantFile.FileKind)) return;
        throw Reject(LicenseRejection.WrongKind, payload.FileKind is null
            ? $"This file does not say it is a {Name(kind)} in its signed content."
            : $"This file was signed as a {Name(payload.FileKind)}, not as a {Name(kind)}: its label was changed.");
    }

    /// <summary>
    /// The vendor signed the .lic inside; the server key signed the payload. Whoever holds the server key
    /// can sign any payload, so it counts only within the .lic: a product the .lic holds, of the same
    /// kind; issued while the .lic was valid and not later than now; ending no later than the .lic and
    /// the product; no longer than the vendor's limits allow.
    /// </summary>
    private static void CheckWithinVendorLicense(string kind, IServerSignedPayload payload, LicensePayload vendor, DateTimeOffset now)
    {
        var what = Name(kind);
        var product = vendor.Product(payload.ProductCode);
        if (product is null)
            throw Reject(LicenseRejection.NotInVendorLicense, $"This {what} is for {payload.ProductCode}, which the vendor's license does not grant.");
        if (product.Kind != payload.Kind || (kind == FloatingGrantFile.FileKind && product.Kind != ProductKind.Floating))
            throw Reject(LicenseRejection.NotInVendorLicense,
                $"This {what} is for {payload.ProductCode} as a {ProductWords.Word(payload.Kind)} product, but the vendor's license grants it as {ProductWords.Word(product.Kind)}.");
        if (payload.IssuedAt > now + LicenseVerifier.ClockSkew)
            throw Reject(LicenseRejection.IssuedInFuture,
                $"This {what} says it was issued on {LicenseVerifier.Format(payload.IssuedAt)}, later than this machine's clock ({LicenseVerifier.Format(now)}).");
        if (payload.IssuedAt < vendor.ValidFrom - LicenseVerifier.ClockSkew || (vendor.ValidUntil is { } licenseEnd && payload.IssuedAt >= licenseEnd))
            throw Reject(LicenseRejection.BeyondVendorLicense,
                $"This {what} was issued on {LicenseVerifier.Format(payload.IssuedAt)}, outside the vendor's license ({Validity(vendor)}).");
        if (vendor.ValidUntil is { } until && payload.ExpiresAt > until)
            throw Reject(LicenseRejection.BeyondVendorLicense,
                $"This {what} runs until {LicenseVerifier.Format(payload.ExpiresAt)}, after the vendor's license ends ({LicenseVerifier.Format(until)}).");
        if (product.ExpiresAt is { } productEnd && payload.ExpiresAt > productEnd)
            throw Reject(LicenseRejection.BeyondVendorLicense,
                $"This {what} runs until {LicenseVerifier.Format(payload.ExpiresAt)}, after the vendor's {product.Code} subscription ends ({LicenseVerifier.Format(productEnd)}).");
        var limits = vendor.LimitsFor(product);
        var longest = kind switch
        {
            LeaseFile.FileKind => TimeSpan.FromDays(limits.LeaseDays),
            FloatingGrantFile.FileKind => TimeSpan.FromSeconds(limits.SessionLeaseSeconds),
            _ => (TimeSpan?)null,
        };
        if (longest is { } most && payload.ExpiresAt - payload.IssuedAt > most)
            throw Reject(LicenseRejection.BeyondVendorLicense,
                $"This {what} lasts {Span(payload.ExpiresAt - payload.IssuedAt)}; the vendor's license allows at most {Span(most)} for {product.Code}.");
        if (kind == OfflineLicenseFile.FileKind && product.ExpiresAt is null && vendor.ValidUntil is null)
            throw Reject(LicenseRejection.BeyondVendorLicense,
                $"This {what} is for {product.Code}, which has no end date in the vendor's license: only subscriptions with an end become offline licenses.");
    }

    private static T? TryRead<T>(byte[] payloadBytes) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(payloadBytes, LicenseJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string Name(string kind) => kind switch
    {
        LeaseFile.FileKind => "lease",
        OfflineLicenseFile.FileKind => "offline license",
        FloatingGrantFile.FileKind => "floating grant",
        _ => $"\"{kind}\" file",
    };

    private static string Validity(LicensePayload vendor) =>
        $"valid from {LicenseVerifier.Format(vendor.ValidFrom)}" + (vendor.ValidUntil is { } until ? $" to {LicenseVerifier.Format(until)}" : ", without end");

    private static string Span(TimeSpan span) =>
        span.TotalDays >= 1 ? Invariant($"{span.TotalDays:0.##} days") : span.TotalHours >= 1 ? Invariant($"{span.TotalHours:0.##} hours") : Invariant($"{span.TotalSeconds:0} seconds");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static LicenseRejectedException Reject(LicenseRejection reason, string message) => new(reason, message);
}
