using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Data.Activation;
using Microsoft.AspNetCore.DataProtection;

namespace LicenseServer.Web.Activation;

public sealed record ActivationState(bool Activated, ServerLicenseRow? License, IReadOnlyList<ProductRow> Products);

/// <summary>
/// Server activation: this installation's identity and server key, the license request file,
/// and the upload of a vendor .lic, which is verified whole before anything is stored.
/// </summary>
public sealed class ActivationService(
    InstallationRepository installations,
    ServerLicenseRepository licenses,
    TrustedVendorKeys trusted,
    IDataProtectionProvider protection,
    SetupCodeService setupCodes,
    Licenses.EffectiveLimits limits,
    TimeProvider clock,
    ILogger<ActivationService> logger)
{
    public const long MaxLicenseFileBytes = 256 * 1024;
    private readonly IDataProtector _keyProtector = protection.CreateProtector("Kit.ServerKey.v1");
    private InstallationIdentity? _identity;
    private PrivateKey? _serverKey;

    /// <summary>Makes the installation ID and server key on first start; every later start reads them.</summary>
    public async Task<InstallationIdentity> EnsureIdentityAsync()
    {
        if (_identity is not null) return _identity;
        var row = await installations.GetAsync();
        if (row is null)
        {
            var key = PrivateKey.Generate();
            var id = Guid.NewGuid().ToString("D");
            row = await installations.CreateOnceAsync(id, key.PublicKey.ToBase64(),
                _keyProtector.Protect(Convert.ToBase64String(key.ExportSeed())));
            logger.LogInformation("This installation is {InstallationId}", row.InstallationId);
        }
        return _identity = new InstallationIdentity(row.InstallationId, row.ServerPublicKey);
    }

    /// <summary>
    /// The server key that signs offline licenses and leases. Its private half is only ever in memory
    /// here; it is read and decrypted once, since an installation keeps its key for life.
    /// </summary>
    public async Task<PrivateKey> ServerKeyAsync()
    {
        if (_serverKey is { } key) return key;
        var row = await installations.GetAsync() ?? throw new InvalidOperationException("The installation has no server key yet.");
        return _serverKey = PrivateKey.FromSeed(Convert.FromBase64String(_keyProtector.Unprotect(row.ServerPrivateKeyProtected)));
    }

    public async Task<ActivationState> GetStateAsync()
    {
        var license = await licenses.GetAsync();
        return new ActivationState(license is not null, license, license is null ? [] : await licenses.ProductsAsync());
    }

    public async Task<bool> IsActivatedAsync() => await licenses.GetAsync() is not null;

    public Task<(bool Activated, bool DefaultAccount)> SetupStateAsync() => licenses.SetupStateAsync();

    public async Task<LicenseRequest> CreateRequestAsync(string? companyId) =>
        LicenseRequest.Create(companyId, await EnsureIdentityAsync(), Hosting.ServerHost.Version, clock.GetUtcNow());

    /// <summary>Verifies and stores a .lic. Throws <see cref="LicenseRejectedException"/> and stores nothing when it is refused.</summary>
    /// <param name="actor">The signed-in server admin; null for the first activation, before any account exists.</param>
    public async Task<LicensePayload> ActivateAsync(byte[] fileBytes, long? actor = null)
    {
        if (fileBytes.Length > MaxLicenseFileBytes)
            throw new LicenseRejectedException(LicenseRejection.Unreadable,
                $"The file is {fileBytes.Length / 1024} KB; a license file is at most {MaxLicenseFileBytes / 1024} KB. Check that you chose the .lic file.");
        var identity = await EnsureIdentityAsync();
        var payload = new LicenseVerifier(trusted, clock).Verify(fileBytes, identity);
        limits.RequireAllows(payload);
        if (await licenses.ActivateAsync(payload, System.Text.Encoding.UTF8.GetString(fileBytes), actor) is { } newer)
            throw new LicenseRejectedException(LicenseRejection.OlderThanCurrent,
                $"This license was issued on {LicenseVerifier.Format(payload.IssuedAt)}, before the newest one activated here " +
                $"({LicenseVerifier.Format(new DateTimeOffset(newer, TimeSpan.Zero))}). Upload the newest license file you received.");
        limits.Invalidate();
        logger.LogInformation("Activated license {LicenseId} for {Customer} with {Count} product(s)", payload.LicenseId, payload.Customer, payload.Products.Count);
        if (!(await licenses.SetupStateAsync()).DefaultAccount) await setupCodes.IssueAsync();
        return payload;
    }

    /// <summary>Removes the license and its products; organizations, shares and assignments stay for the next upload. False when there was none.</summary>
    public async Task<bool> DeleteAsync(long actor)
    {
        if (!await licenses.DeleteAsync(actor)) return false;
        limits.Invalidate();
        logger.LogWarning("The server's license was deleted by user {UserId}; clients are refused until a license is uploaded", actor);
        return true;
    }

    /// <summary>The license and the products that end within 30 days or have ended, the most urgent first.</summary>
    public static IReadOnlyList<ExpiryWarning> ExpiryWarnings(ActivationState state, DateTimeOffset now)
    {
        if (state.License is not { } license) return [];
        var items = new List<ExpiringItem>();
        if (license.ValidUntil is { } until) items.Add(new ExpiringItem("license", "The server's license", until));
        // A product that ends with the license (or after it) needs no warning of its own: the license's says it all.
        items.AddRange(state.Products.Where(p => p.ExpiresAt is { } end && (license.ValidUntil is not { } until || end < until))
            .Select(p => new ExpiringItem(p.Code, $"{p.Name} ({p.Code})", p.ExpiresAt!.Value)));
        return LicenseExpiry.Warnings(items, now);
    }

    public async Task<IReadOnlyList<ExpiryWarning>> ExpiryWarningsAsync() => ExpiryWarnings(await GetStateAsync(), clock.GetUtcNow());
}
