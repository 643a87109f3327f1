using System.Security.Cryptography;

namespace LicenseServer.Core.Security;

/// <summary>
/// API keys are <c>kit_&lt;prefix&gt;_&lt;secret&gt;</c>: a readable 8-character prefix to recognise a key in
/// lists, and 256 random bits. Only the SHA-256 of the whole key is stored.
/// </summary>
public static class ApiKeyToken
{
    public static (string Key, string Prefix) New()
    {
        var prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        return ($"kit_{prefix}_{SecretToken.New()}", prefix);
    }

    public static bool LooksValid(string? key) =>
        key is { Length: 4 + 8 + 1 + 43 } && key.StartsWith("kit_", StringComparison.Ordinal) && key[12] == '_' && SecretToken.LooksValid(key[13..]);

    public static byte[] Hash(string key) => SecretToken.Hash(key);
}
