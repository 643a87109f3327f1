using LicenseServer.Core.Activation;
using LicenseServer.Data.Activation;

namespace LicenseServer.Web.Activation;

/// <summary>The active .lic: its text, as the vendor signed it, and what it says.</summary>
public sealed record ActiveVendorLicense(string Text, LicensePayload Payload);

/// <summary>
/// The active .lic, whose text every signed floating grant carries as the vendor's proof for the server
/// key. Read once and kept; read again when a checkout saw a .lic issued at another time (another node
/// replaced it), when this node replaced it, or after <see cref="MaxAge"/>.
/// </summary>
public sealed class VendorLicenseText(ServerLicenseRepository licenses, TimeProvider clock)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    private sealed record Current(ActiveVendorLicense License, DateTime IssuedAt, DateTimeOffset ReadAt);

    private Current? _current;

    /// <summary>The .lic, or null when the server has none. <paramref name="issuedAt"/>: the issue time of the .lic the caller's decision read, if known.</summary>
    public async Task<ActiveVendorLicense?> GetAsync(DateTime? issuedAt = null)
    {
        var now = clock.GetUtcNow();
        if (_current is { } current && now - current.ReadAt < MaxAge && (issuedAt is null || issuedAt == current.IssuedAt))
            return current.License;
        var row = await licenses.GetAsync();
        _current = row is null ? null : new Current(new ActiveVendorLicense(row.FileText, LicenseVerifier.ReadStored(row.FileText)), row.IssuedAt, now);
        return _current?.License;
    }

    /// <summary>This node activated or deleted a license.</summary>
    public void Forget() => _current = null;
}
