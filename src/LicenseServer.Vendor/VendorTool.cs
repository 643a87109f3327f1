using System.CommandLine;
using System.Globalization;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Tooling;

namespace LicenseServer.Vendor;

/// <summary>
/// The vendor's tool. keygen makes a vendor key pair; issue signs a .lic from a request file or
/// from parameters; verify checks a .lic against a vendor public key.
/// </summary>
public static class VendorTool
{
    private const string About = """
        kit-vendor: the vendor's tool. keygen makes a vendor key pair; issue signs a .lic from a customer's license
        request file or from parameters; verify checks a .lic against a vendor public key.
        Exit codes: 0 done, 1 refused, invalid or failed (the reason is printed), 2 usage.
        """;

    public static int Run(string[] args, TextWriter output, TextWriter error, TimeProvider clock)
    {
        try
        {
            return CommandLineTool.InvokeAsync(CommandLineTool.Parse(Commands(output, clock), args), output, error).GetAwaiter().GetResult();
        }
        catch (UsageException e)
        {
            error.WriteLine(e.Message);
            return CommandLineTool.UsageError;
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

    private static RootCommand Commands(TextWriter output, TimeProvider clock)
    {
        var keygen = new Command("keygen", "Make a vendor key pair: PREFIX.key (private, keep it secret) and PREFIX.pub.")
            { CommandLineTool.Value("--out", "PREFIX of the two files", required: true) };
        keygen.SetAction(parsed => Keygen(new Options(parsed), output));

        var issue = new Command("issue", """
            Sign a .lic. A product is CODE:kind:quota:subscription[:name]; kind is per-user or floating, subscription
            annual (needs an end: --valid-until or --days) or perpetual. Limits (a server's settings may only tighten
            them; unset: 7 lease days, 2 machines per user, 10 activations in 30 days, 330 session lease seconds) hold
            for every product; --limit sets one product's own, e.g. --limit KSE.leaseDays=3 (names: leaseDays,
            machinesPerUser, churnLimit, churnWindowDays, sessionLeaseSeconds).
            """)
        {
            CommandLineTool.Value("--key", "the vendor private key (PREFIX.key)", required: true),
            CommandLineTool.Value("--customer", "the customer's name", required: true),
            new Option<string[]>("--product") { Description = "a product, CODE:kind:quota:subscription[:name]; give one per product", AllowMultipleArgumentsPerToken = false },
            CommandLineTool.Value("--request", "the customer's license request file: binds the license to that installation and vouches for its server key"),
            CommandLineTool.Value("--installation-id", "the installation to bind to, without a request file"),
            CommandLineTool.Value("--server-key", "the installation's server public key (base64), without a request file"),
            CommandLineTool.Value("--company-id", "the customer's company ID"),
            CommandLineTool.Value("--valid-from", "first day, yyyy-MM-dd (default: now)"),
            CommandLineTool.Value("--valid-until", "last moment, yyyy-MM-dd"),
            CommandLineTool.Value("--days", "days from --valid-from instead of --valid-until"),
            CommandLineTool.Value("--out", "the .lic file to write", required: true),
            CommandLineTool.Value("--lease-days", "how long a per-user lease may be checked offline"),
            CommandLineTool.Value("--machines-per-user", "machines one user may activate per product"),
            CommandLineTool.Value("--churn-limit", "activations per user and product within the churn window"),
            CommandLineTool.Value("--churn-window-days", "the churn window in days"),
            CommandLineTool.Value("--session-lease-seconds", "how long a floating session and its grant last after a heartbeat"),
            new Option<string[]>("--limit") { Description = "one product's own limit, CODE.name=value; repeat for more" },
        };
        issue.SetAction(parsed => Issue(new Options(parsed), output, clock));

        var verify = new Command("verify", "Check a .lic against a vendor public key and print what it grants, with the limits in force.")
        {
            CommandLineTool.Value("--pub", "the vendor public key (PREFIX.pub)", required: true),
            CommandLineTool.Value("--installation-id", "also check that the license is for this installation"),
            new Argument<string>("file") { Description = "the .lic file" },
        };
        verify.SetAction(parsed => Verify(new Options(parsed), output, clock));

        var vectors = new Command("test-vectors", """
            Write the files a client implementation is tested against: a vendor key, a .lic, leases, offline licenses and
            floating grants with the verdict and code each must get (cases.json), tampered ones among them, and machine-ID
            inputs with their IDs (machine-id.json). Fixed keys and times: the same files every time.
            """)
            { CommandLineTool.Value("--out", "the directory to write them to", required: true) };
        vectors.SetAction(parsed =>
        {
            var directory = new Options(parsed).Require("out");
            var written = TestVectors.Write(directory);
            output.WriteLine($"Wrote {written.Count} files to {directory}.");
            return 0;
        });

        return new RootCommand(About) { keygen, issue, verify, vectors };
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
            output.WriteLine($"  {p.Code,-6} {p.Name,-24} {p.Kind.Word(),-9} quota {p.Quota,-5} {(p.Subscription == SubscriptionKind.Annual ? "annual" : "perpetual")}");
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

    /// <summary>The values of the command's options by name (the last one given wins), and its file argument.</summary>
    private sealed class Options(ParseResult parsed)
    {
        private Option? Find(string name) => CommandLineTool.Find(parsed, name);

        public string? Positional => parsed.CommandResult.Command.Arguments.FirstOrDefault() is Argument<string> file ? parsed.GetValue(file) : null;
        public string? Get(string name) => Find(name) switch
        {
            Option<string> one => parsed.GetValue(one),
            Option<string[]> many => parsed.GetValue(many)?.LastOrDefault(),
            _ => null,
        };
        public IEnumerable<string> All(string name) => Find(name) switch
        {
            Option<string[]> many => parsed.GetValue(many) ?? [],
            Option<string> one when parsed.GetResult(one) is { } result => result.Tokens.Select(t => t.Value),
            _ => [],
        };
        public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required.");

        public DateTimeOffset? Date(string name) => Get(name) is not { } text ? null
            : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at
            : throw new UsageException($"--{name} {text}: write a date as yyyy-MM-dd.");
    }
}

public sealed class UsageException(string message) : Exception(message);
