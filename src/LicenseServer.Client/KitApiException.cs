namespace LicenseServer.Client;

/// <summary>A refusal from the server: its HTTP status, its stable code (e.g. quota_exceeded) and its sentence.</summary>
public sealed class KitApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
}
