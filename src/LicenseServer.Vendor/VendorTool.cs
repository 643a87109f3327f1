using System.Globalization;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Vendor;

/// <summary>
/// The vendor's tool. keygen makes a vendor key pair; issue signs a .lic from a request file or
/// from parameters; verify checks a .lic against a vendor public key.
/// </summary>
public static class VendorTool
{
    public const string Usage = """
        Usage:
          kit-vendor keygen --out PREFIX
              writes PREFIX.key (private, keep it secret) and PREFIX.pub
          kit-vendor issue --key PREFIX.key --customer NAME --product CODE:kind:quota:subscription[:name] [--product ...]
                           [--request REQUEST.json | --installation-id ID --server-key BASE64] [--company-id ID]
                           [--valid-from yyyy-MM-dd] [--valid-until yyyy-MM-dd | --days N] --out FILE.lic
                           [--lease-days N] [--machines-per-user N] [--churn-limit N] [--churn-window-days N]
                           [--session-lease-seconds N] [--limit CODE.name=value ...]
              kind: per-user or floating; subscription: annual or perpetual (annual needs an end date)
              limits (a server's settings may only tighten them; unset: 7 lease days, 2 machines per user,
              10 activations in 30 days, 330 session lease seconds): --lease-days and the others hold for
              every product; --limit sets one product's own, e.g. --limit KSE.leaseDays=3
              (names: leaseDays, machinesPerUser, churnLimit, churnWindowDays, sessionLeaseSeconds)
          kit-vendor verify --pub PREFIX.pub [--installation-id ID] FILE.lic
        """;

    public static int Run(string[] args, TextWriter output, TextWriter error, TimeProvider clock)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            output.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            var options = Options.Parse(args[1..]);
            return args[0] switch
            {
                "keygen" => Keygen(options, output),
                "issue" => Issue(options, output, clock),
                "verify" => Verify(options, output, clock),
                _ => throw new UsageException($"Unknown command \"{args[0]}\"."),
            };
        }
        catch (UsageException e)
        {
            error.WriteLine($"{e.Message}\n\n{Usage}");
            return 2;
        }
        catch (LicenseRejectedException e)
        {
            error.WriteLine($"INVALID ({e.Code}): {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is FormatException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            error.WriteLine(e.Message);
            return 1;
        }
    }

    private static int Keygen(Options options, TextWriter output)
    {
        var prefix = options.Require("out");
        var key = PrivateKey.Generate();
        if (File.Exists(prefix + ".key")) throw new IOException($"{prefix}.key exists already; refusing to overwrite a vendor key.");
        WritePrivate(prefix + ".key", KeyFiles.WritePrivate(key));
        File.WriteAllText(prefix + ".pub", KeyFiles.WritePublic(key.PublicKey));
        output.WriteLine($"Wrote {prefix}.key (private) and {prefix}.pub (public), key id {key.PublicKey.Id}.");
        return 0;
    }

    private static int Issue(Options options, TextWriter output, TimeProvider clock)
    {
        var key = KeyFiles.ReadPrivate(File.ReadAllText(options.Require("key")));
        var now = clock.GetUtcNow();
        var validFrom = options.Date("valid-from") ?? now;
        var validUntil = options.Date("valid-until")
            ?? (options.Get("days") is { } days ? validFrom.AddDays(ParseDays(days)) : (DateTimeOffset?)null);
        string? installationId = options.Get("installation-id"), serverKey = options.Get("server-key"), companyId = options.Get("company-id");
        if (options.Get("request") is { } requestPath)
        {
            var request = LicenseRequest.Parse(File.ReadAllText(requestPath));
            installationId = request.InstallationId;
            serverKey = request.ServerPublicKey;
            companyId ??= request.CompanyId;
        }
        if (serverKey is not null) PublicKey.FromBase64(serverKey);
        var products = options.All("product").Select(spec => LicenseIssuer.ParseProduct(spec, validUntil)).ToList();
        if (products.Count == 0) throw new UsageException("issue needs at least one --product, e.g. --product KSE:per-user:10:annual.");
        if (products.GroupBy(p => p.Code).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new UsageException($"Product {twice.Key} is given twice.");
        products = ProductLimits(options, products);
        var order = new LicenseOrder(options.Require("customer"), companyId, installationId, serverKey, validFrom, validUntil, products, LicenseLimits(options));
        var file = LicenseIssuer.Issue(order, key, now);
        var outPath = options.Require("out");
        File.WriteAllText(outPath, file.ToText());
        output.WriteLine($"Wrote {outPath}: {order.Customer}, {string.Join(", ", products.Select(p => $"{p.Code} {p.Quota}"))}" +
                         (installationId is null ? ", any installation." : $", installation {installationId}."));
        return 0;
    }

    /// <summary>The command line's name of each license-wide limit, by its name in the .lic.</summary>
    private static readonly (string Option, string Limit)[] LimitOptions =
    [
        ("lease-days", "leaseDays"), ("machines-per-user", "machinesPerUser"), ("churn-limit", "churnLimit"),
        ("churn-window-days", "churnWindowDays"), ("session-lease-seconds", "sessionLeaseSeconds"),
    ];

    private static VendorLimits? LicenseLimits(Options options)
    {
        VendorLimits? limits = null;
        foreach (var (option, limit) in LimitOptions)
        {
            var values = options.All(option).ToList();
            if (values.Count > 1) throw new UsageException($"--{option} is given twice.");
            if (values.Count == 1)
                limits = VendorLimitSpec.With(limits, limit, VendorLimitSpec.ParseValue(limit, values[0], $"--{option} {values[0]}"), $"--{option}");
        }
        return limits;
    }

    /// <summary>Each --limit CODE.name=value, on the product it names; a product the license does not list is refused.</summary>
    private static List<LicensedProduct> ProductLimits(Options options, List<LicensedProduct> products)
    {
        foreach (var spec in options.All("limit"))
        {
            var (code, name, value) = VendorLimitSpec.ParseProductLimit(spec);
            var index = products.FindIndex(p => p.Code == code);
            if (index < 0)
                throw new UsageException($"--limit {spec}: the license has no product {code}; give it with --product first, " +
                                         $"or use one of {string.Join(", ", products.Select(p => p.Code))}.");
            products[index] = products[index] with { Limits = VendorLimitSpec.With(products[index].Limits, name, value, $"--limit {code}.{name}") };
        }
        return products;
    }

    private static int Verify(Options options, TextWriter output, TimeProvider clock)
    {
        var pub = KeyFiles.ReadPublic(File.ReadAllText(options.Require("pub")));
        var path = options.Positional ?? throw new UsageException("verify needs the .lic file to check.");
        var verifier = new LicenseVerifier(new TrustedVendorKeys([pub]), clock);
        var installation = options.Get("installation-id") is { } id ? new InstallationIdentity(id, "") : null;
        var payload = verifier.Verify(File.ReadAllBytes(path), null);
        if (installation is not null && payload.InstallationId is { } bound && bound != installation.InstallationId)
            throw new LicenseRejectedException(LicenseRejection.OtherInstallation, $"This license is for installation {bound}, not {installation.InstallationId}.");
        output.WriteLine($"VALID: license {payload.LicenseId} for {payload.Customer}, issued {LicenseVerifier.Format(payload.IssuedAt)}, " +
                         $"valid {LicenseVerifier.Format(payload.ValidFrom)} to {(payload.ValidUntil is { } u ? LicenseVerifier.Format(u) : "no end (perpetual)")}, " +
                         $"installation {payload.InstallationId ?? "any"}");
        foreach (var p in payload.Products)
        {
            output.WriteLine($"  {p.Code,-6} {p.Name,-24} {(p.Kind == ProductKind.PerUser ? "per-user" : "floating"),-9} quota {p.Quota,-5} {(p.Subscription == SubscriptionKind.Annual ? "annual" : "perpetual")}");
            output.WriteLine($"         limits: {VendorLimitSpec.Describe(payload.LimitsFor(p), p.Kind)}");
        }
        return 0;
    }

    private static int ParseDays(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days > 0 ? days
            : throw new UsageException($"--days {text}: give a whole number of days, 1 or more.");

    /// <summary>Never over an existing file: a vendor key is not replaced by mistake.</summary>
    private static void WritePrivate(string path, string content)
    {
        using var writer = new StreamWriter(path, Core.Security.OwnerOnlyFile.Options(FileMode.CreateNew));
        writer.Write(content);
    }

    private sealed class Options
    {
        private readonly List<(string Name, string Value)> _values = [];
        public string? Positional { get; private set; }

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal)) { options.Positional = args[i]; continue; }
                if (i + 1 >= args.Length) throw new UsageException($"{args[i]} needs a value.");
                options._values.Add((args[i][2..], args[++i]));
            }
            return options;
        }

        public string? Get(string name) => _values.LastOrDefault(v => v.Name == name).Value;
        public IEnumerable<string> All(string name) => _values.Where(v => v.Name == name).Select(v => v.Value);
        public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required.");

        public DateTimeOffset? Date(string name) => Get(name) is not { } text ? null
            : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at
            : throw new UsageException($"--{name} {text}: write a date as yyyy-MM-dd.");
    }
}

public sealed class UsageException(string message) : Exception(message);
