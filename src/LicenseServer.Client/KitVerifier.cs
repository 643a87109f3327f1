using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Client;

/// <summary>
/// Checks a lease, an offline .lic or a floating grant with nothing but the vendor's public key: the
/// vendor's license inside vouches for the server key that signed it, and bounds what it may grant. Throws <see cref="LicenseRejectedException"/> with its own message.
/// </summary>
public sealed class KitVerifier(PublicKey vendorKey, TimeProvider? clock = null)
{
    private readonly TrustedVendorKeys _trusted = new([vendorKey]);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public OfflineLicensePayload VerifyLease(string leaseText, string? machineId = null) => LeaseFile.Verify(leaseText, _trusted, _clock, machineId);

    public OfflineLicensePayload VerifyOfflineLicense(string fileText, string? machineId = null) => OfflineLicenseFile.Verify(fileText, _trusted, _clock, machineId);

    public FloatingGrantPayload VerifyGrant(string grantText, string? machineId = null) => FloatingGrantFile.Verify(grantText, _trusted, _clock, machineId);

    /// <summary>Either kind of file, told apart by its "kind".</summary>
    public OfflineLicensePayload Verify(string text, string? machineId = null) =>
        text.Contains($"\"{LeaseFile.FileKind}\"", StringComparison.Ordinal) ? VerifyLease(text, machineId) : VerifyOfflineLicense(text, machineId);
}
