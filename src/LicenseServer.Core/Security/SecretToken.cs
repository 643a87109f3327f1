using System.Security.Cryptography;

namespace LicenseServer.Core.Security;

/// <summary>
/// Secrets for links (invitations, password resets): 256 bits from a CSPRNG, base64url in the link,
/// stored only as SHA-256. Looking a link up by its hash compares no secret in variable time.
/// </summary>
public static class SecretToken
{
    public static string New() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string token) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token ?? ""));

    /// <summary>A token that cannot be one of ours (wrong length or alphabet) never reaches the database.</summary>
    public static bool LooksValid(string? token) =>
        token is { Length: 43 } && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
