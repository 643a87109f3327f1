using System.Globalization;

namespace LicenseServer.Core.Activation;

/// <summary>
/// How a vendor writes the limits of a .lic on kit-vendor's command line: one limit by its name in the
/// file (<c>leaseDays</c>), and a product's own as <c>CODE.name=value</c> (<c>KSE.leaseDays=3</c>).
/// </summary>
public static class VendorLimitSpec
{
    /// <summary>Each limit's name in the .lic, the unit a person reads, and the largest value it may take.</summary>
    public static readonly IReadOnlyList<(string Name, string Unit, int Max)> Limits =
    [
        ("leaseDays", "days", 3650),
        ("machinesPerUser", "machines", 10_000),
        ("churnLimit", "activations", 1_000_000),
        ("churnWindowDays", "days", 3650),
        ("sessionLeaseSeconds", "seconds", 7 * 86_400),
    ];

    /// <summary>A limit's value: a whole number from 1 to the limit's largest. <paramref name="source"/> names it in the message.</summary>
    public static int ParseValue(string name, string text, string source)
    {
        var (canonical, unit, max) = Find(name, source);
        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value is >= 1 && value <= max ? value
            : throw new FormatException($"{source}: \"{text}\" is not a valid {canonical}; give a whole number of {unit} from 1 to {max}.");
    }

    /// <summary><paramref name="limits"/> with one more limit set; setting one twice is refused, since one of the two would be lost.</summary>
    public static VendorLimits With(VendorLimits? limits, string name, int value, string source)
    {
        limits ??= new VendorLimits();
        var canonical = Find(name, source).Name;
        if (Get(limits, canonical) is not null) throw new FormatException($"{source}: {canonical} is given twice.");
        return canonical switch
        {
            "leaseDays" => limits with { LeaseDays = value },
            "machinesPerUser" => limits with { MachinesPerUser = value },
            "churnLimit" => limits with { ChurnLimit = value },
            "churnWindowDays" => limits with { ChurnWindowDays = value },
            _ => limits with { SessionLeaseSeconds = value },
        };
    }

    /// <summary>Parses <c>CODE.name=value</c>, e.g. <c>KSE.leaseDays=3</c>.</summary>
    public static (string Product, string Name, int Value) ParseProductLimit(string spec)
    {
        var equals = spec.IndexOf('=');
        var dot = equals < 0 ? -1 : spec.LastIndexOf('.', equals);
        if (dot <= 0 || equals < dot + 2)
            throw new FormatException($"--limit {spec}: write CODE.name=value, e.g. KSE.leaseDays=3 (names: {string.Join(", ", Limits.Select(l => l.Name))}).");
        var product = spec[..dot].Trim().ToUpperInvariant();
        var name = spec[(dot + 1)..equals].Trim();
        var source = $"--limit {spec}";
        return (product, Find(name, source).Name, ParseValue(name, spec[(equals + 1)..], source));
    }

    private static (string Name, string Unit, int Max) Find(string name, string source)
    {
        foreach (var limit in Limits)
            if (string.Equals(limit.Name, name.Trim(), StringComparison.OrdinalIgnoreCase)) return limit;
        throw new FormatException($"{source}: there is no limit \"{name}\"; use one of {string.Join(", ", Limits.Select(l => l.Name))}.");
    }

    private static int? Get(VendorLimits limits, string name) => name switch
    {
        "leaseDays" => limits.LeaseDays,
        "machinesPerUser" => limits.MachinesPerUser,
        "churnLimit" => limits.ChurnLimit,
        "churnWindowDays" => limits.ChurnWindowDays,
        _ => limits.SessionLeaseSeconds,
    };

    /// <summary>The limits in force for a product, as kit-vendor verify prints them: only those that apply to its kind.</summary>
    public static string Describe(ProductLimits limits, ProductKind kind) => kind == ProductKind.PerUser
        ? $"lease {limits.LeaseDays} day{S(limits.LeaseDays)}, {limits.MachinesPerUser} machine{S(limits.MachinesPerUser)} per user, " +
          $"{limits.ChurnLimit} activation{S(limits.ChurnLimit)} in {limits.ChurnWindowDays} day{S(limits.ChurnWindowDays)}"
        : $"session lease {limits.SessionLeaseSeconds} second{S(limits.SessionLeaseSeconds)}";

    private static string S(int n) => n == 1 ? "" : "s";
}
