using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Licenses;

/// <summary>
/// What the server grants a machine: an offline license (L7: one product on one machine until a date)
/// or a client lease (C1: a per-user activation, also for a user). Both are signed with the server key.
/// </summary>
public sealed record OfflineLicensePayload(
    Guid Id,
    string ProductCode,
    string ProductName,
    ProductKind Kind,
    long OrganizationId,
    string OrganizationName,
    string MachineId,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt,
    string InstallationId,
    string ServerPublicKey,
    string? UserEmail = null);

/// <summary>An offline license file (L7), one kind of <see cref="ServerSignedFile"/>.</summary>
public static class OfflineLicenseFile
{
    public const string FileKind = "kit-offline-license";

    public static string Sign(OfflineLicensePayload payload, PrivateKey serverKey, string vendorLicenseText) =>
        ServerSignedFile.Sign(FileKind, payload, serverKey, vendorLicenseText);

    public static OfflineLicensePayload Verify(ReadOnlySpan<byte> fileBytes, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        ServerSignedFile.Verify(FileKind, fileBytes, vendorKeys, clock, machineId);

    public static OfflineLicensePayload Verify(string text, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        Verify(Encoding.UTF8.GetBytes(text), vendorKeys, clock, machineId);
}

/// <summary>A lease for one activated machine (C1), checked offline until it expires; one kind of <see cref="ServerSignedFile"/>.</summary>
public static class LeaseFile
{
    public const string FileKind = "kit-lease";

    public static string Sign(OfflineLicensePayload payload, PrivateKey serverKey, string vendorLicenseText) =>
        ServerSignedFile.Sign(FileKind, payload, serverKey, vendorLicenseText);

    public static OfflineLicensePayload Verify(string text, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        ServerSignedFile.Verify(FileKind, Encoding.UTF8.GetBytes(text), vendorKeys, clock, machineId);
}

/// <summary>
/// A file the server signs (C4): the payload signed by the server key, plus the vendor's .lic that
/// vouches for that key, so a client that trusts only the vendor key verifies the whole chain offline.
/// The kind is part of the envelope, so a lease is never taken for an offline license or back.
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

    public static string Sign(string kind, OfflineLicensePayload payload, PrivateKey serverKey, string vendorLicenseText)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(payload, LicenseJson.Options);
        var envelope = new Envelope(kind, LicenseFile.CurrentFormat, LicenseFile.Ed25519Alg, Convert.ToBase64String(bytes),
            Convert.ToBase64String(serverKey.Sign(bytes)), vendorLicenseText);
        return JsonSerializer.Serialize(envelope, LicenseJson.Options) + "\n";
    }

    /// <summary>
    /// Verifies with the vendor keys alone: the embedded vendor license's signature, that it vouches for
    /// the server key, the server's signature over the payload, then the machine and the expiry.
    /// </summary>
    public static OfflineLicensePayload Verify(string kind, ReadOnlySpan<byte> fileBytes, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null)
    {
        var what = kind == LeaseFile.FileKind ? "lease" : "offline license";
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
        if (TryClaimedKey(payloadBytes) is { } claimed && claimed != vendor.ServerPublicKey)
            throw Reject(LicenseRejection.NotVouched, $"The {what} was signed by a server key that the vendor's license does not vouch for: it comes from another server.");
        if (!serverKey.Verify(payloadBytes, signature))
            throw Reject(LicenseRejection.BadSignature, $"The {what}'s signature does not match its content, or it was not signed by the server the vendor vouches for: the file was changed or comes from another server.");

        var payload = JsonSerializer.Deserialize<OfflineLicensePayload>(payloadBytes, LicenseJson.Options)
            ?? throw Reject(LicenseRejection.InvalidPayload, $"The {what} is signed but empty.");
        if (payload.ServerPublicKey != vendor.ServerPublicKey || payload.InstallationId != vendor.InstallationId)
            throw Reject(LicenseRejection.NotVouched, $"The {what} names another server than the one the vendor vouches for.");
        if (machineId is not null && !string.Equals(payload.MachineId, machineId, StringComparison.Ordinal))
            throw Reject(LicenseRejection.OtherMachine, $"This {what} is for machine {payload.MachineId}, not for this machine ({machineId}).");
        if (payload.ExpiresAt <= clock.GetUtcNow())
            throw Reject(LicenseRejection.Expired, $"This {what} expired on {LicenseVerifier.Format(payload.ExpiresAt)}. Ask your administrator for a new one, or activate again.");
        return payload;
    }

    private static string? TryClaimedKey(byte[] payloadBytes)
    {
        try
        {
            return JsonSerializer.Deserialize<OfflineLicensePayload>(payloadBytes, LicenseJson.Options)?.ServerPublicKey;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static LicenseRejectedException Reject(LicenseRejection reason, string message) => new(reason, message);
}
