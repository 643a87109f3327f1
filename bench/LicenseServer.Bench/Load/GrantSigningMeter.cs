using System.Diagnostics;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Bench.Load;

/// <summary>What signing one floating grant costs (an Ed25519 signature and its envelope with the .lic), as the server does it on every checkout and heartbeat.</summary>
public sealed record GrantSigningResult(int Grants, double MsPerGrant, int GrantBytes);

public static class GrantSigningMeter
{
    /// <summary>
    /// Signs <paramref name="grants"/> grants with the server's code on one thread, after a warm-up, while the
    /// server is idle; wall time on one thread is its CPU time.
    /// </summary>
    public static GrantSigningResult Measure(string vendorLicenseText, int grants = 4000)
    {
        var payload = LicenseVerifier.ReadStored(vendorLicenseText);
        var key = PrivateKey.Generate();
        var product = payload.Products.First(p => p.Kind == ProductKind.Floating).Code;
        string Sign(int i)
        {
            var now = DateTimeOffset.UtcNow;
            return FloatingGrantFile.Sign(new FloatingGrantPayload(FloatingGrantFile.FileKind, Guid.NewGuid(), 1, product, ProductKind.Floating,
                $"machine-{i % 1000}", "4242", now, now.AddSeconds(330), payload.InstallationId ?? "", payload.ServerPublicKey ?? ""), key, vendorLicenseText);
        }
        var bytes = 0;
        for (var i = 0; i < grants / 4; i++) bytes = Sign(i).Length;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < grants; i++) Sign(i);
        return new GrantSigningResult(grants, watch.Elapsed.TotalMilliseconds / grants, bytes);
    }
}
