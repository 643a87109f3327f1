using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Activation;

/// <summary>
/// A .lic file: a readable JSON envelope holding the exact payload bytes (base64) and a detached
/// Ed25519 signature over those bytes. Verification happens on the bytes, before the payload is parsed.
/// </summary>
public sealed record LicenseFile(int Format, string Alg, string KeyId, byte[] Payload, byte[] Signature)
{
    public const int CurrentFormat = 1;
    public const string Ed25519Alg = "Ed25519";
    public const string FileKind = "kit-license";

    // Every field optional to the reader, so that a missing one is named below rather than refused as "not JSON".
    private sealed record Envelope(
        [property: JsonPropertyName("kind")] string? Kind = null,
        [property: JsonPropertyName("format")] int? Format = null,
        [property: JsonPropertyName("alg")] string? Alg = null,
        [property: JsonPropertyName("keyId")] string? KeyId = null,
        [property: JsonPropertyName("payload")] string? Payload = null,
        [property: JsonPropertyName("signature")] string? Signature = null);

    public static LicenseFile Sign(LicensePayload payload, PrivateKey key)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(payload, LicenseJson.Options);
        return new LicenseFile(CurrentFormat, Ed25519Alg, key.PublicKey.Id, bytes, key.Sign(bytes));
    }

    public string ToText()
    {
        var envelope = new Envelope(FileKind, Format, Alg, KeyId, Convert.ToBase64String(Payload), Convert.ToBase64String(Signature));
        return JsonSerializer.Serialize(envelope, LicenseJson.Options) + "\n";
    }

    /// <summary>Reads the envelope only. Throws <see cref="LicenseRejectedException"/> with <see cref="LicenseRejection.Unreadable"/>.</summary>
    public static LicenseFile Parse(ReadOnlySpan<byte> fileBytes)
    {
        Envelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<Envelope>(fileBytes, LicenseJson.Options);
        }
        catch (JsonException)
        {
            throw Unreadable("it is not a JSON license document");
        }
        if (envelope is null || envelope.Kind != FileKind)
            throw Unreadable("it does not say it is a Kit license (\"kind\": \"kit-license\")");
        if (envelope.Format is null || envelope.Alg is null || envelope.KeyId is null || envelope.Payload is null || envelope.Signature is null)
            throw Unreadable("a required field (format, alg, keyId, payload or signature) is missing");
        try
        {
            return new LicenseFile(envelope.Format.Value, envelope.Alg, envelope.KeyId,
                Convert.FromBase64String(envelope.Payload), Convert.FromBase64String(envelope.Signature));
        }
        catch (FormatException)
        {
            throw Unreadable("its payload or signature is not valid base64");
        }
    }

    public static LicenseFile Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    private static LicenseRejectedException Unreadable(string why) => new(LicenseRejection.Unreadable,
        $"The file could not be read as a Kit license file: {why}. Upload the .lic file exactly as the vendor sent it.");
}
