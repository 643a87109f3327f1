namespace LicenseServer.Core.Activation;

/// <summary>Why a license file was refused. Each has its own message; the code is stable for clients and logs.</summary>
public enum LicenseRejection
{
    Unreadable,
    UnsupportedFormat,
    UnsupportedAlgorithm,
    UnknownSigner,
    BadSignature,
    InvalidPayload,
    NotYetValid,
    Expired,
    IssuedInFuture,
    OtherInstallation,
    OlderThanCurrent,
    NotVouched,
    OtherMachine,
    WrongKind,
    NotInVendorLicense,
    BeyondVendorLicense,
    /// <summary>The license allows less than a setting of this server (a limit the settings may only tighten).</summary>
    LimitsBelowSettings,
}

public sealed class LicenseRejectedException(LicenseRejection reason, string message) : Exception(message)
{
    public LicenseRejection Reason { get; } = reason;

    /// <summary>snake_case code, e.g. <c>bad_signature</c>.</summary>
    public string Code => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(Reason.ToString());
}
