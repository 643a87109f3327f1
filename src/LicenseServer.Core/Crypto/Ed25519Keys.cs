using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;

namespace LicenseServer.Core.Crypto;

/// <summary>An Ed25519 public key with its short, stable id (the first 16 hex digits of its SHA-256).</summary>
public sealed record PublicKey(byte[] Bytes)
{
    public string Id { get; } = ComputeId(Bytes);

    public string ToBase64() => Convert.ToBase64String(Bytes);

    public static PublicKey FromBase64(string text)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            throw new FormatException("The public key is not valid base64.");
        }
        if (bytes.Length != Ed25519PublicKeyParameters.KeySize)
            throw new FormatException($"An Ed25519 public key has {Ed25519PublicKeyParameters.KeySize} bytes; this one has {bytes.Length}.");
        return new PublicKey(bytes);
    }

    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != Ed25519.SignatureSize) return false;
        var verifier = new Ed25519Signer();
        verifier.Init(false, new Ed25519PublicKeyParameters(Bytes, 0));
        verifier.BlockUpdate(message.ToArray(), 0, message.Length);
        return verifier.VerifySignature(signature.ToArray());
    }

    private static string ComputeId(byte[] bytes) =>
        Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];

    public bool Equals(PublicKey? other) => other is not null && Bytes.AsSpan().SequenceEqual(other.Bytes);

    public override int GetHashCode() => Id.GetHashCode(StringComparison.Ordinal);
}

/// <summary>An Ed25519 private key (its 32-byte seed). Never logged, never sent.</summary>
public sealed class PrivateKey
{
    private readonly byte[] _seed;

    private PrivateKey(byte[] seed)
    {
        _seed = seed;
        PublicKey = new PublicKey(new Ed25519PrivateKeyParameters(seed, 0).GeneratePublicKey().GetEncoded());
    }

    public PublicKey PublicKey { get; }

    public static PrivateKey Generate()
    {
        var parameters = new Ed25519PrivateKeyParameters(new SecureRandom());
        return new PrivateKey(parameters.GetEncoded());
    }

    public static PrivateKey FromSeed(byte[] seed)
    {
        if (seed.Length != Ed25519PrivateKeyParameters.KeySize)
            throw new FormatException($"An Ed25519 private key has {Ed25519PrivateKeyParameters.KeySize} bytes; this one has {seed.Length}.");
        return new PrivateKey((byte[])seed.Clone());
    }

    public byte[] ExportSeed() => (byte[])_seed.Clone();

    /// <summary>
    /// RFC 8032 Ed25519 (pure), as Ed25519Signer makes it, but with the public half computed once, in the
    /// constructor: the signer derives it again on every call (a scalar multiplication, about as dear as
    /// the signature itself), and the server signs a lease on every activation.
    /// </summary>
    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signature = new byte[Ed25519.SignatureSize];
        var bytes = message.ToArray();
        Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Sign(_seed, 0, PublicKey.Bytes, 0, bytes, 0, bytes.Length, signature, 0);
        return signature;
    }

    public override string ToString() => $"PrivateKey({PublicKey.Id})";
}

internal static class Ed25519
{
    public const int SignatureSize = 64;
}
