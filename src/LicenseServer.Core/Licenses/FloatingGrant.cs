using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Licenses;

/// <summary>
/// A floating seat as the server grants it: one session of one process on one machine, for a product
/// of an organization, until <see cref="ExpiresAt"/>. Each checkout and heartbeat answers a new one.
/// </summary>
public sealed record FloatingGrantPayload(
    string FileKind,
    Guid SessionId,
    long OrganizationId,
    string ProductCode,
    ProductKind Kind,
    string MachineId,
    string ProcessId,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt,
    string InstallationId,
    string ServerPublicKey) : IServerSignedPayload;

/// <summary>
/// A signed floating grant, one kind of <see cref="ServerSignedFile"/>: a client counts a seat as held only
/// once it has verified the grant with the vendor key, so neither a stub server nor a proxy can hand out seats.
/// </summary>
public static class FloatingGrantFile
{
    public const string FileKind = "kit-floating-grant";

    public static string Sign(FloatingGrantPayload payload, PrivateKey serverKey, string vendorLicenseText) =>
        ServerSignedFile.Sign(FileKind, payload with { FileKind = FileKind }, serverKey, vendorLicenseText);

    public static FloatingGrantPayload Verify(string text, TrustedVendorKeys vendorKeys, TimeProvider clock, string? machineId = null) =>
        ServerSignedFile.Verify<FloatingGrantPayload>(FileKind, Encoding.UTF8.GetBytes(text), vendorKeys, clock, machineId);
}
