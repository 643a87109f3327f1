namespace LicenseServer.Data.Audit;

/// <summary>
/// The address of the request being served, which <see cref="AuditRepository.WriteAsync"/> records with every
/// change: the web host sets it once per request and it flows into everything the request awaits, so the
/// repositories that audit need not pass it along. Null for background work, which has no caller.
/// </summary>
public static class AuditCaller
{
    private static readonly AsyncLocal<string?> Current = new();

    public static string? Address
    {
        get => Current.Value;
        set => Current.Value = value;
    }
}
