namespace LicenseServer.Core.Crypto;

/// <summary>
/// Text forms of keys as kit-vendor writes them: one header line, then base64.
/// The header keeps a private key from being mistaken for a public one.
/// </summary>
public static class KeyFiles
{
    public const string PrivateHeader = "kit-ed25519-private-key/1";
    public const string PublicHeader = "kit-ed25519-public-key/1";

    public static string WritePrivate(PrivateKey key) =>
        $"{PrivateHeader}\n{Convert.ToBase64String(key.ExportSeed())}\n";

    public static string WritePublic(PublicKey key) =>
        $"{PublicHeader}\n{key.ToBase64()}\n";

    public static PrivateKey ReadPrivate(string text)
    {
        var body = Body(text, PrivateHeader, "private key");
        try
        {
            return PrivateKey.FromSeed(Convert.FromBase64String(body));
        }
        catch (FormatException e)
        {
            throw new FormatException($"The private key file is damaged: {e.Message}");
        }
    }

    public static PublicKey ReadPublic(string text) => PublicKey.FromBase64(Body(text, PublicHeader, "public key"));

    private static string Body(string text, string header, string what)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length != 2 || lines[0] != header)
            throw new FormatException($"This is not a Kit {what} file: its first line must be '{header}'.");
        return lines[1];
    }
}
