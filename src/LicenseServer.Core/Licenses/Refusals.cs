using LicenseServer.Core.Activation;

namespace LicenseServer.Core.Licenses;

/// <summary>
/// The numbers a seat rule read when it refused a seat, whichever path decided: a grant, an offline license, or a
/// floating checkout decided in the database, which answers its refusal code with these numbers.
/// </summary>
public sealed record RefusalFacts(string ProductCode = "")
{
    public DateTimeOffset? LicenseValidUntil { get; init; }
    /// <summary>When the product's own subscription ended (the refusal product_expired).</summary>
    public DateTimeOffset? ProductEndedAt { get; init; }
    /// <summary>The product's seats in the server's license, and the shares of all organizations together.</summary>
    public int Licensed { get; init; }
    public long Shared { get; init; }
    /// <summary>The organization's share, and its seats not in use.</summary>
    public int Quota { get; init; }
    public int Available { get; init; }
    /// <summary>How many seats were asked for at once (a bulk grant asks for several).</summary>
    public int Wanted { get; init; } = 1;
    public string? MachineId { get; init; }
    public string? DisabledReason { get; init; }
    /// <summary>Machines registered for the floating product: at most its quota.</summary>
    public int Registered { get; init; }
    public IReadOnlyList<TeamReservation> Reservations { get; init; } = [];
}

/// <summary>
/// The one table that turns a seat refusal's code into the sentence people and clients read, the same for every path
/// that takes a seat, so that a code means one thing and is worded once. The rules themselves decide the code: the
/// grant rules in C# (SeatPools, <see cref="SeatReservations"/>), the checkout's in the database function
/// kit_checkout_decide.
/// </summary>
public static class Refusals
{
    public static LicenseRuleException Word(string code, RefusalFacts facts)
    {
        var product = facts.ProductCode;
        return code switch
        {
            "server_not_activated" => new(code, "The license server is not activated."),
            "license_expired" => new(code, $"The server's license expired on {facts.LicenseValidUntil:yyyy-MM-dd}. An administrator must upload a renewed license."),
            "clock_tampering" => new(code, "The server's clock is earlier than its license's issue date. Correct the system clock."),
            // The product's own subscription ended before the license did; clients know it as license_expired.
            "product_expired" => new("license_expired", $"The {product} license expired on {LicenseVerifier.Format(facts.ProductEndedAt!.Value)}."),
            "unknown_product" => new(code, $"The server's license has no product {product}."),
            "not_floating" => new(code, $"{product} is a per-user license: activate it with your account instead."),
            "not_assigned" => new(code,
                $"{product} is not assigned to you in this organization, which lets only assigned members check it out. An admin assigns it under License Management."),
            "machine_disabled" => MachineRules.Disabled(facts.MachineId!, facts.DisabledReason),
            "machine_not_allowed" => MachineRules.NotAllowed(product, facts.MachineId!),
            "machine_limit" => new(code,
                $"{product} is registered on {facts.Registered} machines, its quota; an admin must remove one under License Management before {facts.MachineId} can use it."),
            "over_allocated" => new(code,
                $"The server's license holds {facts.Licensed} {product} seats, but {facts.Shared} are shared among organizations. " +
                "Nothing new is granted until the server admin lowers the shares under All licenses."),
            "quota_exceeded" when facts.Quota == 0 => new(code,
                $"No {product} seats are allocated to this organization. The server admin allocates them under All licenses."),
            "quota_exceeded" => new(code, $"{product} has {facts.Available} of {facts.Quota} seats left, not enough for {facts.Wanted}. Nothing was granted."),
            "reserved" => Reserved(product, facts.Available, facts.Reservations),
            _ => throw new ArgumentOutOfRangeException(nameof(code), code, "A seat refusal this table does not word."),
        };
    }

    private static LicenseRuleException Reserved(string productCode, int available, IReadOnlyList<TeamReservation> reservations)
    {
        var open = reservations.Where(r => r.Unfilled > 0).OrderBy(r => r.TeamName, StringComparer.OrdinalIgnoreCase).ToList();
        var reserved = open.Sum(r => r.Unfilled);
        var teams = string.Join(", ", open.Select(r => $"{r.Unfilled} for team {r.TeamName}"));
        return new LicenseRuleException("reserved",
            $"{productCode} has {Seats(available)} left, and {Seats(reserved)} {(reserved == 1 ? "is" : "are")} reserved for members of " +
            $"{(open.Count == 1 ? "that team" : "those teams")} only ({teams}). Nothing was granted.");
    }

    private static string Seats(int count) => count == 1 ? "1 seat" : $"{count} seats";
}
