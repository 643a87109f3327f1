using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>A self-signed server certificate for 127.0.0.1 and localhost, made at run time, written as PKCS#12 or PEM files.</summary>
public sealed class TestCertificate : IDisposable
{
    private TestCertificate(X509Certificate2 certificate, X509Certificate2? issuer, string directory)
    {
        Certificate = certificate;
        Issuer = issuer;
        Directory = directory;
    }

    public X509Certificate2 Certificate { get; }
    /// <summary>The intermediate CA that issued <see cref="Certificate"/>, or null when it is self-signed.</summary>
    public X509Certificate2? Issuer { get; }
    /// <summary>The certificates the server sent besides its own in the latest handshake of a <see cref="Client"/>.</summary>
    public IReadOnlyList<string> ChainSent { get; private set; } = [];
    public string Directory { get; }
    public string Sha256 => Certificate.GetCertHashString(HashAlgorithmName.SHA256);

    /// <param name="withIssuer">Issued by a CA made here too, instead of self-signed.</param>
    public static TestCertificate Create(bool withIssuer = false)
    {
        X509Certificate2? issuer = null;
        if (withIssuer)
        {
            // A root and an intermediate CA: TLS sends the intermediate with the server's certificate, never the root.
            using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var root = CaRequest("CN=kit-test-root", rootKey).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-20), DateTimeOffset.UtcNow.AddDays(3));
            using var intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            issuer = CaRequest("CN=kit-test-intermediate", intermediateKey)
                .Create(root, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2), RandomNumberGenerator.GetBytes(8))
                .CopyWithPrivateKey(intermediateKey);
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=kit-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var (notBefore, notAfter) = (DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificate = issuer is null
            ? request.CreateSelfSigned(notBefore, notAfter)
            : request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(8)).CopyWithPrivateKey(key);
        var directory = Path.Combine(Path.GetTempPath(), "kit-cert-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        return new TestCertificate(certificate, issuer, directory);
    }

    private static CertificateRequest CaRequest(string subject, ECDsa key)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }

    public string WritePfx(string password)
    {
        var path = Path.Combine(Directory, "server.pfx");
        File.WriteAllBytes(path, Certificate.Export(X509ContentType.Pkcs12, password));
        return path;
    }

    /// <returns>The certificate file (followed by its issuer's, if any) and the (unencrypted) key file.</returns>
    public (string Certificate, string Key) WritePem()
    {
        var certificate = Path.Combine(Directory, "server.crt");
        var key = Path.Combine(Directory, "server.key");
        File.WriteAllText(certificate, Certificate.ExportCertificatePem() + "\n" + Issuer?.ExportCertificatePem());
        File.WriteAllText(key, Certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (certificate, key);
    }

    /// <summary>A client that trusts exactly this certificate (pinned by its SHA-256) and keeps cookies to itself: the test reads Set-Cookie.</summary>
    public HttpClient Client(string baseUrl, bool followRedirects = false)
    {
        var expected = Sha256;
        var handler = new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = followRedirects,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, presented, chain, _) =>
                {
                    ChainSent = chain?.ChainPolicy.ExtraStore.Select(c => c.GetCertHashString(HashAlgorithmName.SHA256)).ToList() ?? [];
                    return presented is not null && presented.GetCertHashString(HashAlgorithmName.SHA256) == expected;
                },
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri(baseUrl) };
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Issuer?.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
