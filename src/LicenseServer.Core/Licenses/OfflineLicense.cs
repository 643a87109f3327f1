using System.Text;
using System.Text.Json.Serialization;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Licenses;

/// <summary>
/// What the server grants a machine: an offline license (one product on one machine until a date)
/// or a client lease (a per-user activation, also for a user). Both are signed with the server key.
/// <see cref="FileKind"/> is the kind of file it was signed as; files signed before it was part of the
/// payload have none.
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
    string? UserEmail = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FileKind = null) : IServerSignedPayload;

/// <summary>An offline license file, one kind of <see cref="ServerSignedFile"/>.</summary>
public static class OfflineLicenseFile
{
    public const string FileKind = "kit-offline-license";

    public static string Sign(OfflineLicensePayload payload, PrivateKey serverKey, string vendorLicenseText) =>
        ServerSignedFile.Sign(FileKind, payload with { FileKind = FileKind }, serverKey, vendorLicenseText);

    public static OfflineLicensePayload Verify(ReadOnlySpan<byte> fileBytes, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        ServerSignedFile.Verify<OfflineLicensePayload>(FileKind, fileBytes, vendorKeys, clock, machineId);

    public static OfflineLicensePayload Verify(string text, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        Verify(Encoding.UTF8.GetBytes(text), vendorKeys, clock, machineId);
}

/// <summary>A lease for one activated machine, checked offline until it expires; one kind of <see cref="ServerSignedFile"/>.</summary>
public static class LeaseFile
{
    public const string FileKind = "kit-lease";

    public static string Sign(OfflineLicensePayload payload, PrivateKey serverKey, string vendorLicenseText) =>
        ServerSignedFile.Sign(FileKind, payload with { FileKind = FileKind }, serverKey, vendorLicenseText);

    public static OfflineLicensePayload Verify(string text, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        ServerSignedFile.Verify<OfflineLicensePayload>(FileKind, Encoding.UTF8.GetBytes(text), vendorKeys, clock, machineId);
}
