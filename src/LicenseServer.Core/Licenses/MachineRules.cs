namespace LicenseServer.Core.Licenses;

/// <summary>At most <paramref name="Activations"/> machine activations per user and product in any <paramref name="WindowDays"/> days.</summary>
public sealed record ChurnLimit(int Activations, int WindowDays)
{
    public TimeSpan Window => TimeSpan.FromDays(WindowDays);

    /// <summary>At least as strict as both: the fewer activations, over the longer window.</summary>
    public ChurnLimit Tighter(ChurnLimit other) => new(Math.Min(Activations, other.Activations), Math.Max(WindowDays, other.WindowDays));

    /// <summary>True when this limit allows nothing <paramref name="ceiling"/> refuses.</summary>
    public bool Within(ChurnLimit ceiling) => Activations <= ceiling.Activations && WindowDays >= ceiling.WindowDays;

    public override string ToString() => $"{Activations} activation{(Activations == 1 ? "" : "s")} in {WindowDays} day{(WindowDays == 1 ? "" : "s")}";
}

/// <summary>The refusals that concern one machine, worded the same on every path.</summary>
public static class MachineRules
{
    public const int MaxReasonLength = 200;

    public static LicenseRuleException Disabled(string machineId, string? reason) =>
        new("machine_disabled", $"Machine {machineId} is disabled in this organization" +
            (string.IsNullOrWhiteSpace(reason) ? "." : $": {reason}.") + " Ask an Owner or Admin to enable it under License Management.");

    public static LicenseRuleException NotAllowed(string productCode, string machineId) =>
        new("machine_not_allowed",
            $"{productCode} may be used only on the machines of its allow-list, and {machineId} is not on it. Ask an Owner or Admin to add it under License Management.");

    /// <summary><paramref name="nextAt"/>: when the oldest activation that counts leaves the window.</summary>
    public static LicenseRuleException Churned(string productCode, ChurnLimit limit, DateTimeOffset nextAt) =>
        new("churn_limit",
            $"You activated {productCode} on a machine {limit.Activations} time{(limit.Activations == 1 ? "" : "s")} in the last {limit.WindowDays} day{(limit.WindowDays == 1 ? "" : "s")}, " +
            $"the most this product allows. The next activation is possible from {nextAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC.");

    /// <summary>An optional reason for disabling a machine: one line, trimmed, empty as none.</summary>
    public static string? CheckReason(string? reason)
    {
        reason = reason?.Trim();
        if (string.IsNullOrEmpty(reason)) return null;
        if (reason.Length > MaxReasonLength || reason.Any(char.IsControl))
            throw new LicenseRuleException("invalid_reason", $"Give the reason in one line of at most {MaxReasonLength} characters, or leave it empty.");
        return reason;
    }
}
