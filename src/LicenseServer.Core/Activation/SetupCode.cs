using System.Security.Cryptography;
using System.Text;

namespace LicenseServer.Core.Activation;

/// <summary>
/// The one-time code that creating the default account asks for: 128 bits from a CSPRNG, written where only
/// whoever runs the server can read it (its log and a file in its data directory), so that the first person
/// on the network to open the Setup page after activation does not become the server admin. Shown in
/// groups of four base32 characters; compared as the SHA-256 of its normalized form.
/// </summary>
public static class SetupCode
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// <summary>26 base32 characters (130 bits, of which 128 are random) in groups of four: ABCD-EFGH-…-YZ.</summary>
    public static string New()
    {
        var bytes = RandomNumberGenerator.GetBytes(16);
        var text = new StringBuilder(32);
        int buffer = 0, bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                text.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) text.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        return string.Join('-', text.ToString().Chunk(4).Select(c => new string(c)));
    }

    /// <summary>Upper case without separators or spaces, as a person may type or paste it.</summary>
    public static string Normalize(string? code) =>
        new((code ?? "").Where(c => c is not ('-' or ' ' or '\t')).Select(char.ToUpperInvariant).ToArray());

    public static byte[] Hash(string? code) => SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(code)));

    /// <summary>Whether the text can be a code at all (26 characters of the alphabet): anything else is refused without a lookup.</summary>
    public static bool LooksValid(string? code) => Normalize(code) is { Length: 26 } n && n.All(c => Alphabet.Contains(c));
}
