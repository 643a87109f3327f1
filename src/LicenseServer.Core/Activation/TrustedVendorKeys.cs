using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Activation;

/// <summary>
/// The vendor keys a server trusts: the one built into it, plus a locally made demo key only when
/// the server runs in demo mode. A key carried inside a license file is never trusted.
/// </summary>
public sealed class TrustedVendorKeys
{
    private readonly Dictionary<string, PublicKey> _byId;

    public TrustedVendorKeys(IEnumerable<PublicKey> keys)
    {
        _byId = keys.ToDictionary(k => k.Id, StringComparer.Ordinal);
    }

    public IReadOnlyCollection<PublicKey> Keys => _byId.Values;

    public PublicKey? Find(string keyId) => _byId.GetValueOrDefault(keyId);

    /// <summary>The vendor public key embedded at build time (see VendorPublicKeyFile in the Core project).</summary>
    public static PublicKey BuiltIn()
    {
        using var stream = typeof(TrustedVendorKeys).Assembly.GetManifestResourceStream("LicenseServer.Core.vendor-public.key")
            ?? throw new InvalidOperationException("The built-in vendor public key is missing from this build.");
        using var reader = new StreamReader(stream);
        return KeyFiles.ReadPublic(reader.ReadToEnd());
    }
}
