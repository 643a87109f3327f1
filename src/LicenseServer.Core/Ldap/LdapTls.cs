using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LicenseServer.Core.Ldap;

/// <summary>How the client checks a directory server's certificate. It never accepts one with any error.</summary>
internal static class LdapTls
{
    /// <summary>
    /// The handshake's options: the name must match <paramref name="host"/>, and the chain must build to one of
    /// <paramref name="trusted"/> when set (and only to them), else to the system's store.
    /// </summary>
    public static SslClientAuthenticationOptions Options(string host, X509Certificate2Collection? trusted, CertificateCheck check)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            // Directories' internal CAs rarely publish a revocation list the server could reach.
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // Only records what was wrong, for the sentence; a certificate with any error is refused.
            RemoteCertificateValidationCallback = (_, _, chain, errors) => check.Record(errors, chain),
        };
        if (trusted is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(trusted);
            options.CertificateChainPolicy = policy;
        }
        return options;
    }

    /// <summary>The CA certificate(s) in the PEM, or null for none; a PEM that holds none is a mistake, not "trust the system".</summary>
    public static X509Certificate2Collection? TrustedCertificates(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem)) return null;
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new LdapException($"The trusted CA certificate of the directory could not be read: {e.Message}");
        }
        if (certificates.Count == 0)
            throw new LdapException("The trusted CA certificate of the directory holds no -----BEGIN CERTIFICATE----- block.");
        return certificates;
    }

    /// <summary>What the certificate check found, for the sentence when the handshake is refused.</summary>
    public sealed class CertificateCheck
    {
        public string? Problem { get; private set; }

        public bool Record(SslPolicyErrors errors, X509Chain? chain)
        {
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) Problem = "sent no certificate";
            else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
                Problem = $"presented a certificate that is not trusted ({string.Join(", ", chain?.ChainStatus.Select(s => s.Status) ?? [])}); " +
                          "set the CA certificate that issued it";
            else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
                Problem = "presented a certificate that is not made out to that host name";
            return errors == SslPolicyErrors.None;
        }
    }
}
