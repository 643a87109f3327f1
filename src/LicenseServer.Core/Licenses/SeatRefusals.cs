namespace LicenseServer.Core.Licenses;

/// <summary>
/// The refusals that mean "no seat for you now" (the pool is full or a limit is reached), as
/// opposed to a mistake of the caller such as an unknown product. These are recorded for the Usage
/// page and raise a seat_refused alert. Add a new limit's code here and nowhere else.
/// </summary>
public static class SeatRefusals
{
    public static readonly IReadOnlySet<string> Codes = new HashSet<string>(StringComparer.Ordinal)
    {
        "quota_exceeded",
        "machine_limit",
        "reserved",
        "churn_limit",
        "machine_not_allowed",
        "machine_disabled",
        "not_assigned",
    };

    public static bool IsSeatRefusal(this LicenseRuleException e) => Codes.Contains(e.Code);
}
