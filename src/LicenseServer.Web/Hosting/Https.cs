using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// The server's own HTTPS: the certificate of <c>Kit:Https</c> serves every https:// address of
/// <c>Urls</c>. A certificate that cannot be used stops the server before anything starts, with a
/// sentence that names the setting, instead of Kestrel's stack trace at the first connection.
/// </summary>
internal static class Https
{
    public static void UseKitHttps(this WebApplicationBuilder builder, KitOptions options, TimeProvider clock, ILogger logger)
    {
        var urls = builder.Configuration["urls"] ?? "";
        var httpsUrl = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        if (string.IsNullOrWhiteSpace(options.Https.CertificatePath))
        {
            if (httpsUrl)
                throw new StartupException($"Urls has an https:// address ({urls}) but no certificate is configured: set Kit:Https:CertificatePath "
                    + "(a .pfx file, or a PEM certificate with Kit:Https:KeyPath), or listen on http:// only.");
            return;
        }
        var (certificate, chain) = Load(options.Https);
        if (!httpsUrl)
            logger.LogWarning("Kit:Https:CertificatePath is set but Urls ({Urls}) has no https:// address: the server answers over plain HTTP only", urls);
        if (certificate.NotAfter.ToUniversalTime() < clock.GetUtcNow().UtcDateTime)
            logger.LogWarning("The HTTPS certificate {Subject} expired on {NotAfter:yyyy-MM-dd}: clients will refuse it", certificate.Subject, certificate.NotAfter);
        logger.LogInformation("HTTPS certificate {Subject} (SHA-256 {Thumbprint}), valid until {NotAfter:yyyy-MM-dd}",
            certificate.Subject, certificate.GetCertHashString(HashAlgorithmName.SHA256), certificate.NotAfter);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            https.ServerCertificate = certificate;
            // Intermediate CA certificates in the file go out with it, so clients need only the root.
            if (chain.Count > 0) https.ServerCertificateChain = chain;
        }));
    }

    /// <summary>Opens the configured certificate with its private key, and the other certificates of the file; a <see cref="StartupException"/> says what is wrong.</summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Chain) Load(HttpsOptions https)
    {
        var path = KitOptions.Resolve(https.CertificatePath);
        if (!File.Exists(path))
            throw new StartupException($"The HTTPS certificate file {path} (Kit:Https:CertificatePath) does not exist or cannot be read by this account.");
        var password = string.IsNullOrEmpty(https.CertificatePassword) ? null : https.CertificatePassword;
        X509Certificate2 certificate;
        var chain = new X509Certificate2Collection();
        try
        {
            if (IsPem(path))
            {
                certificate = LoadPem(path, https.KeyPath, password);
                chain.ImportFromPemFile(path);
            }
            else
            {
                certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
                chain = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password);
            }
        }
        catch (CryptographicException e)
        {
            throw new StartupException($"The HTTPS certificate {path} cannot be opened: {Reason(path, e)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"The HTTPS certificate {path} cannot be read: {e.Message}");
        }
        if (!certificate.HasPrivateKey)
            throw new StartupException($"The HTTPS certificate {path} holds no private key: use a .pfx with its key, or a PEM certificate with Kit:Https:KeyPath.");
        foreach (var own in chain.Where(c => c.Thumbprint == certificate.Thumbprint).ToList()) chain.Remove(own);
        return (certificate, chain);
    }

    private static bool IsPem(string path)
    {
        using var reader = new StreamReader(path);
        var start = new char[4096];
        return new string(start, 0, reader.ReadBlock(start)).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
    }

    private static X509Certificate2 LoadPem(string path, string keyPath, string? password)
    {
        var key = string.IsNullOrWhiteSpace(keyPath) ? null : KitOptions.Resolve(keyPath);
        if (key is not null && !File.Exists(key))
            throw new StartupException($"The HTTPS key file {key} (Kit:Https:KeyPath) does not exist or cannot be read by this account.");
        using var pem = password is null ? X509Certificate2.CreateFromPemFile(path, key) : X509Certificate2.CreateFromEncryptedPemFile(path, password, key);
        // A PEM key is ephemeral; Windows' TLS needs a key it can find again, so it goes through PKCS#12 once.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static string Reason(string path, CryptographicException e) => IsPem(path)
        ? $"the PEM certificate or its key (Kit:Https:KeyPath, Kit:Https:CertificatePassword if the key is encrypted) is not valid or they do not match ({e.Message})."
        : $"the password (Kit:Https:CertificatePassword) is wrong, or the file is not a PKCS#12 (.pfx) or PEM certificate ({e.Message}).";
}

/// <summary>A setting that keeps the server from starting; the command line prints its message alone, without a stack trace.</summary>
public sealed class StartupException(string message) : InvalidOperationException(message);
