using System.Security.Cryptography;
using System.Text;

namespace LicenseServer.Core.Security;

/// <summary>
/// The key that encrypts the secrets the server keeps in its database (the Data Protection key ring, which in
/// turn protects the server's private key, mail passwords and webhook secrets). It lives in a file outside the
/// database, owner-only, the same on every node: a database dump or a backup alone decrypts nothing.
/// AES-256-GCM; each text is stored as <c>kit-secret/1:</c> and the base64 of nonce, ciphertext and tag.
/// </summary>
public sealed class SecretsKey
{
    public const string FileHeader = "kit-secrets-key/1";
    private const string Prefix = "kit-secret/1:";
    private const int NonceSize = 12, TagSize = 16;
    private readonly byte[] _key;

    private SecretsKey(byte[] key)
    {
        _key = key;
        Id = Convert.ToHexStringLower(SHA256.HashData([.. "kit-secrets-key-id/1\n"u8, .. key]))[..16];
    }

    /// <summary>A short, stable id of the key (not the key): what the database records to recognise a node with another file.</summary>
    public string Id { get; }

    public static SecretsKey Generate() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>Writes a new key to <paramref name="path"/>, owner-only; never over an existing file.</summary>
    public static SecretsKey Create(string path)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using (var writer = new StreamWriter(new FileStream(path, OwnerOnlyFile.Options(FileMode.CreateNew))))
            writer.Write($"{FileHeader}\n{Convert.ToBase64String(key)}\n");
        return new SecretsKey(key);
    }

    /// <summary>Reads a key file; a <see cref="FormatException"/> says what is wrong with it.</summary>
    public static SecretsKey Read(string path)
    {
        var lines = File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length != 2 || lines[0] != FileHeader)
            throw new FormatException($"{path} is not a Kit secrets key file: its first line must be '{FileHeader}'.");
        try
        {
            var key = Convert.FromBase64String(lines[1]);
            return key.Length == 32 ? new SecretsKey(key) : throw new FormatException($"{path} is damaged: its key has {key.Length} bytes, not 32.");
        }
        catch (FormatException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new FormatException($"{path} is damaged: its key is not valid base64.");
        }
    }

    public static bool IsEncrypted(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal);

    public string Encrypt(string text)
    {
        var plain = Encoding.UTF8.GetBytes(text);
        var sealedBytes = new byte[NonceSize + plain.Length + TagSize];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), Encoding.ASCII.GetBytes(Prefix));
        return Prefix + Convert.ToBase64String(sealedBytes);
    }

    /// <summary>Throws <see cref="CryptographicException"/> when the text was encrypted with another key or changed.</summary>
    public string Decrypt(string stored)
    {
        if (!IsEncrypted(stored)) throw new CryptographicException("The text is not encrypted with a secrets key.");
        var sealedBytes = Convert.FromBase64String(stored[Prefix.Length..]);
        if (sealedBytes.Length < NonceSize + TagSize) throw new CryptographicException("The encrypted text is too short.");
        var length = sealedBytes.Length - NonceSize - TagSize;
        var plain = new byte[length];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, length), sealedBytes.AsSpan(NonceSize + length), plain, Encoding.ASCII.GetBytes(Prefix));
        return Encoding.UTF8.GetString(plain);
    }

    public override string ToString() => $"SecretsKey({Id})";
}
