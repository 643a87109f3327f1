using System.Text.Json;

namespace LicenseServer.Core.Activation;

/// <summary>Who is checking: this installation's id and server key, and the time now.</summary>
public sealed record InstallationIdentity(string InstallationId, string ServerPublicKey);

/// <summary>
/// Checks a .lic file in a fixed order: envelope, format, algorithm, signer, signature over the exact
/// payload bytes, then (only then) the payload: dates, clock rollback, installation binding.
/// </summary>
public sealed class LicenseVerifier(TrustedVendorKeys trusted, TimeProvider clock)
{
    /// <summary>How far a license's issue date may lie ahead of our clock before we call it tampering.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    public LicensePayload Verify(ReadOnlySpan<byte> fileBytes, InstallationIdentity? installation)
    {
        var file = LicenseFile.Parse(fileBytes);
        var payload = VerifySignature(file);
        CheckDates(payload);
        if (installation is not null) CheckInstallation(payload, installation);
        return payload;
    }

    public LicensePayload VerifySignature(LicenseFile file)
    {
        if (file.Format != LicenseFile.CurrentFormat)
            throw new LicenseRejectedException(LicenseRejection.UnsupportedFormat,
                $"This license file has format version {file.Format}; this server reads format version {LicenseFile.CurrentFormat}. " +
                "Ask the vendor for a license file made for this server version, or upgrade the server.");
        if (file.Alg != LicenseFile.Ed25519Alg)
            throw new LicenseRejectedException(LicenseRejection.UnsupportedAlgorithm,
                $"The license file is signed with \"{file.Alg}\"; only Ed25519 signatures are accepted. Ask the vendor for a new license file.");
        var key = trusted.Find(file.KeyId)
            ?? throw new LicenseRejectedException(LicenseRejection.UnknownSigner,
                $"The license file was signed by a key this server does not trust (key id {file.KeyId}): it was not issued by this server's vendor. " +
                "Check that you received it from the vendor of this server.");
        if (!key.Verify(file.Payload, file.Signature))
            throw new LicenseRejectedException(LicenseRejection.BadSignature,
                "The license file's signature does not match its content: the file was changed after the vendor signed it. " +
                "Upload the original file, or ask the vendor for a new copy.");

        LicensePayload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<LicensePayload>(file.Payload, LicenseJson.Options);
        }
        catch (JsonException e)
        {
            throw InvalidPayload(e.Message);
        }
        if (payload is null) throw InvalidPayload("it is empty");
        if (payload.Products.Count == 0) throw InvalidPayload("it lists no products");
        if (payload.Products.Any(p => p.Quota < 0 || string.IsNullOrWhiteSpace(p.Code)))
            throw InvalidPayload("a product has no code or a negative quota");
        if (new[] { payload.Limits }.Concat(payload.Products.Select(p => p.Limits)).Any(l => l is not null && !Positive(l)))
            throw InvalidPayload("a limit is zero or negative");
        // The server stores these texts, and PostgreSQL text cannot hold a NUL.
        string?[] texts = [payload.Vendor, payload.Customer, payload.CompanyId, payload.InstallationId, payload.ServerPublicKey, .. payload.Products.SelectMany(p => new[] { p.Code, p.Name })];
        if (texts.Any(t => t?.Contains('\0') == true))
            throw InvalidPayload("a text in it holds a NUL character");
        return payload;
    }

    /// <summary>Reads the payload of a license this server already verified and stored (no signature check).</summary>
    public static LicensePayload ReadStored(string storedFileText) =>
        JsonSerializer.Deserialize<LicensePayload>(LicenseFile.Parse(storedFileText).Payload, LicenseJson.Options)
        ?? throw new InvalidOperationException("The stored license is empty.");

    private void CheckDates(LicensePayload payload)
    {
        var now = clock.GetUtcNow();
        if (payload.IssuedAt > now + ClockSkew)
            throw new LicenseRejectedException(LicenseRejection.IssuedInFuture,
                $"This license was issued on {Format(payload.IssuedAt)}, which is later than this server's clock ({Format(now)}). " +
                "A system clock set back is treated as tampering: correct the server's date and time, then upload again.");
        if (payload.ValidFrom > now)
            throw new LicenseRejectedException(LicenseRejection.NotYetValid,
                $"This license is not valid yet: it becomes valid on {Format(payload.ValidFrom)}. Upload it on or after that date.");
        if (payload.ValidUntil is { } until && until <= now)
            throw new LicenseRejectedException(LicenseRejection.Expired,
                $"This license expired on {Format(until)}. Ask the vendor for a renewed license file.");
    }

    private static void CheckInstallation(LicensePayload payload, InstallationIdentity installation)
    {
        if (payload.InstallationId is { } id && !string.Equals(id, installation.InstallationId, StringComparison.Ordinal))
            throw new LicenseRejectedException(LicenseRejection.OtherInstallation,
                $"This license file was issued for installation {id}, but this server's installation ID is {installation.InstallationId}. " +
                "Send this server's license request file to the vendor to get a license for it.");
        if (payload.ServerPublicKey is { } key && !string.Equals(key, installation.ServerPublicKey, StringComparison.Ordinal))
            throw new LicenseRejectedException(LicenseRejection.OtherInstallation,
                "This license file vouches for a different server key than this installation's. " +
                "Send this server's current license request file to the vendor to get a license for it.");
    }

    private static bool Positive(VendorLimits limits) =>
        new[] { limits.LeaseDays, limits.MachinesPerUser, limits.ChurnLimit, limits.ChurnWindowDays, limits.SessionLeaseSeconds }.All(v => v is null or > 0);

    private static LicenseRejectedException InvalidPayload(string why) => new(LicenseRejection.InvalidPayload,
        $"The license file is signed correctly but its content is not a valid license ({why}). Ask the vendor for a new license file.");

    public static string Format(DateTimeOffset at) => Format(at.UtcDateTime);

    /// <summary>A time as the database gives it (UTC, whatever its Kind says), in the words of every message.</summary>
    public static string Format(DateTime utc) => utc.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
}
