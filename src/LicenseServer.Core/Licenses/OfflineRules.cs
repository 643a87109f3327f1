using LicenseServer.Core.Activation;

namespace LicenseServer.Core.Licenses;

public sealed class LicenseRuleException(string code, string message) : Exception(message)
{
    /// <summary>A stable code for clients and tests, e.g. <c>quota_exceeded</c>.</summary>
    public string Code { get; } = code;

    /// <summary>The product refused, where a request spans several (a bulk grant).</summary>
    public string? Product { get; set; }
}

/// <summary>Offline licenses as the seeds describe them: annual subscriptions only; expiry by default and at the latest the end of the subscription.</summary>
public static class OfflineRules
{
    public const int MaxMachineIdLength = 128;

    /// <summary>Machine IDs become file names (KSE_&lt;machineID&gt;.lic), so only letters, digits, '-', '_' and '.' are allowed.</summary>
    public static string CheckMachineId(string? machineId)
    {
        machineId = (machineId ?? "").Trim();
        if (machineId.Length == 0) throw new LicenseRuleException("machine_id_required", "Enter the user's machine ID.");
        if (machineId.Length > MaxMachineIdLength)
            throw new LicenseRuleException("machine_id_invalid", $"A machine ID has at most {MaxMachineIdLength} characters.");
        if (!machineId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || machineId.Trim('.').Length == 0)
            throw new LicenseRuleException("machine_id_invalid", "A machine ID has only letters, digits, '-', '_' and '.'. Copy it exactly as the user's client shows it.");
        return machineId;
    }

    /// <summary>The expiry to use: the requested date (end of that day, UTC), or the end of the subscription.</summary>
    public static DateTimeOffset Expiry(LicensedProductTerms product, DateOnly? requested, DateTimeOffset now)
    {
        if (product.Subscription != SubscriptionKind.Annual || product.ExpiresAt is null)
            throw new LicenseRuleException("not_annual", $"Only annual subscriptions can be converted to an offline license; {product.Code} is perpetual.");
        var end = product.ExpiresAt.Value;
        if (end <= now) throw new LicenseRuleException("license_expired", $"The {product.Code} subscription ended on {LicenseVerifier.Format(end)}.");
        if (requested is not { } day) return end;
        var expiry = new DateTimeOffset(day.ToDateTime(TimeOnly.MaxValue), TimeSpan.Zero);
        if (expiry > end)
            throw new LicenseRuleException("expiry_too_late",
                $"An offline license cannot outlive the subscription: choose {end.UtcDateTime:yyyy-MM-dd} or earlier.");
        if (expiry <= now) throw new LicenseRuleException("expiry_in_past", "Choose an expiry date from today on.");
        return expiry;
    }

    public static string FileName(string productCode, string machineId) => $"{productCode}_{machineId}.lic";
}

/// <summary>The facts about a licensed product that the rules need.</summary>
public sealed record LicensedProductTerms(string Code, string Name, ProductKind Kind, SubscriptionKind Subscription, DateTimeOffset? ExpiresAt);
