using System.Security.Cryptography;
using LicenseServer.Core.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace LicenseServer.Core.Tests.Crypto;

/// <summary>The server key signs with its public half computed once; the signatures stay RFC 8032 Ed25519's, byte for byte.</summary>
public class Ed25519KeysTests
{
    [Test]
    public void A_signature_is_the_one_RFC_8032_gives()
    {
        // RFC 8032, section 7.1, TEST 1 (the empty message).
        var key = PrivateKey.FromSeed(Convert.FromHexString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        Assert.That(Convert.ToHexStringLower(key.PublicKey.Bytes), Is.EqualTo("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
        Assert.That(Convert.ToHexStringLower(key.Sign([])), Is.EqualTo(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"));
    }

    [Test]
    public void Signatures_match_the_Ed25519_signer_and_verify_for_many_keys_and_messages()
    {
        for (var i = 0; i < 20; i++)
        {
            var key = PrivateKey.Generate();
            var message = RandomNumberGenerator.GetBytes(i * 97);
            var reference = new Ed25519Signer();
            reference.Init(true, new Ed25519PrivateKeyParameters(key.ExportSeed(), 0));
            reference.BlockUpdate(message, 0, message.Length);
            var signature = key.Sign(message);
            Assert.That(signature, Is.EqualTo(reference.GenerateSignature()));
            Assert.That(key.PublicKey.Verify(message, signature), Is.True);
            message = [.. message, 1];
            Assert.That(key.PublicKey.Verify(message, signature), Is.False, "a signature must not verify another message");
        }
    }

    [Test]
    public void One_key_signs_from_many_threads_at_once()
    {
        var key = PrivateKey.Generate();
        var messages = Enumerable.Range(0, 200).Select(i => RandomNumberGenerator.GetBytes(64 + i)).ToArray();
        var signatures = new byte[messages.Length][];
        Parallel.For(0, messages.Length, i => signatures[i] = key.Sign(messages[i]));
        for (var i = 0; i < messages.Length; i++)
            Assert.That(key.PublicKey.Verify(messages[i], signatures[i]), Is.True, $"message {i}");
    }
}
