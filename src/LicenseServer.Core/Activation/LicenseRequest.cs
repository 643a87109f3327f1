using System.Text.Json;
using System.Text.Json.Serialization;

namespace LicenseServer.Core.Activation;

/// <summary>
/// The license request file an installation sends to the vendor, as Creatio's *.tlr:
/// who asks (company ID), which installation, the server's public key to vouch for, and the version.
/// </summary>
public sealed record LicenseRequest(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("companyId")] string? CompanyId,
    [property: JsonPropertyName("installationId")] string InstallationId,
    [property: JsonPropertyName("serverPublicKey")] string ServerPublicKey,
    [property: JsonPropertyName("serverVersion")] string ServerVersion,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt)
{
    public const string FileKind = "kit-license-request";

    public static LicenseRequest Create(string? companyId, InstallationIdentity installation, string serverVersion, DateTimeOffset now) =>
        new(FileKind, 1, string.IsNullOrWhiteSpace(companyId) ? null : companyId.Trim(), installation.InstallationId,
            installation.ServerPublicKey, serverVersion, now);

    public string ToText() => JsonSerializer.Serialize(this, LicenseJson.Options) + "\n";

    public static LicenseRequest Parse(string text)
    {
        LicenseRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<LicenseRequest>(text, LicenseJson.Options);
        }
        catch (JsonException e)
        {
            throw new FormatException($"This is not a Kit license request file: {e.Message}");
        }
        if (request is null || request.Kind != FileKind)
            throw new FormatException("This is not a Kit license request file: \"kind\" must be \"kit-license-request\".");
        Crypto.PublicKey.FromBase64(request.ServerPublicKey);
        return request;
    }
}
