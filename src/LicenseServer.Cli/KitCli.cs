using System.Text.Json;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Cli;

/// <summary>
/// The kit command over LicenseServer.Client. Exit codes a CI script can rely on:
/// 0 done, 1 refused by the server or a file failed verification (the code is printed), 2 usage,
/// 3 the server could not be reached.
/// </summary>
public static class KitCli
{
    public const int Ok = 0, Refused = 1, Usage = 2, Unreachable = 3;

    public const string Help = """
        Usage: kit <command> [options]
          machine-id                                   print this machine's ID (per machine and OS account)
          login    --server URL --email E [--password P]  sign in; the token is saved for the next commands
          orgs                                         list my organizations and my role
          activate   --org ID --product CODE [--machine-id M] [--out FILE]   activate a per-user product; saves the lease
          deactivate --org ID --product CODE [--machine-id M]
          checkout   --product CODE [--machine-id M] [--for SECONDS]   hold a floating seat (API key) until Ctrl-C or SECONDS
          release    --session ID                      release a floating session (API key)
          verify     FILE [--vendor-key FILE] [--machine-id M]   check a lease or offline .lic with the vendor key alone
          plugins list [--search TEXT]                 the plugins I may use (signed in, or KIT_API_KEY)
          plugins download --id ID --version V [--out FILE]   download a plugin package, its SHA-256 checked
        Server and credentials: --server URL or KIT_SERVER; KIT_API_KEY for floating sessions; the login token is kept in
        $KIT_HOME (default ~/.kit)/credentials.json, readable by you only.
        Leases and floating seats count only when they verify with the vendor's public key: the one built in, or
        --vendor-key FILE (or KIT_VENDOR_KEY) for a demo server's key.
        Exit codes: 0 done, 1 refused or invalid (the reason's code is printed), 2 usage, 3 server unreachable.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            output.WriteLine(Help);
            return args.Length == 0 ? Usage : Ok;
        }
        try
        {
            var options = Options.Parse(args[1..]);
            return args[0] switch
            {
                "machine-id" => Print(output, MachineId.Current()),
                "login" => await LoginAsync(options, output, cancel),
                "orgs" => await OrgsAsync(options, output, cancel),
                "activate" => await ActivateAsync(options, output, cancel),
                "deactivate" => await DeactivateAsync(options, output, cancel),
                "checkout" => await CheckoutAsync(options, output, cancel),
                "release" => await ReleaseAsync(options, output, cancel),
                "verify" => Verify(options, output),
                "plugins" => await PluginsAsync(options, output, cancel),
                _ => throw new UsageException($"Unknown command \"{args[0]}\"."),
            };
        }
        catch (UsageException e)
        {
            error.WriteLine($"{e.Message}\n\n{Help}");
            return Usage;
        }
        catch (KitApiException e)
        {
            error.WriteLine($"refused ({e.Code}): {e.Message}");
            return Refused;
        }
        catch (LicenseRejectedException e)
        {
            error.WriteLine($"invalid ({e.Code}): {e.Message}");
            return Refused;
        }
        catch (HttpRequestException e)
        {
            error.WriteLine($"unreachable: the license server did not answer ({e.Message}).");
            return Unreachable;
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            error.WriteLine("unreachable: the license server did not answer in time.");
            return Unreachable;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            error.WriteLine(e.Message);
            return Usage;
        }
    }

    private static int Print(TextWriter output, string text)
    {
        output.WriteLine(text);
        return Ok;
    }

    private sealed record Credentials(string Server, string Token, string Email);

    private static string Home => Environment.GetEnvironmentVariable("KIT_HOME") is { Length: > 0 } home ? home
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kit");

    private static string CredentialsFile => Path.Combine(Home, "credentials.json");

    private static Credentials? Saved() =>
        File.Exists(CredentialsFile) ? JsonSerializer.Deserialize<Credentials>(File.ReadAllText(CredentialsFile)) : null;

    private static Uri ServerUrl(Options options) =>
        (options.Get("server") ?? Environment.GetEnvironmentVariable("KIT_SERVER") ?? Saved()?.Server) is { } url
            ? Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : throw new UsageException($"\"{url}\" is not a server URL such as http://licenses.example:8080.")
            : throw new UsageException("Give the server URL with --server or KIT_SERVER.");

    private static KitClient SignedIn(Options options)
    {
        var saved = Saved() ?? throw new UsageException("Sign in first: kit login --server URL --email E.");
        return new KitClient(ServerUrl(options), VendorKey(options)) { Token = saved.Token };
    }

    /// <summary>The key leases and grants must verify with: --vendor-key or KIT_VENDOR_KEY, else the vendor key built in.</summary>
    private static PublicKey VendorKey(Options options) =>
        (options.Get("vendor-key") ?? Environment.GetEnvironmentVariable("KIT_VENDOR_KEY")) is { Length: > 0 } keyFile
            ? KeyFiles.ReadPublic(File.ReadAllText(keyFile))
            : TrustedVendorKeys.BuiltIn();

    private static KitClient WithApiKey(Options options) => new(ServerUrl(options), VendorKey(options))
    {
        ApiKey = options.Get("api-key") ?? Environment.GetEnvironmentVariable("KIT_API_KEY")
            ?? throw new UsageException("Set KIT_API_KEY (or --api-key) to an API key from the console's API Keys page."),
    };

    private static async Task<int> LoginAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        var server = ServerUrl(options);
        var email = options.Require("email");
        var password = options.Get("password") ?? Environment.GetEnvironmentVariable("KIT_PASSWORD") ?? Console.In.ReadLine() ?? "";
        using var client = new KitClient(server, VendorKey(options));
        var login = await client.LoginAsync(email, password, cancel);
        Directory.CreateDirectory(Home);
        // The token is never readable by others.
        LicenseServer.Core.Security.OwnerOnlyFile.WriteAllText(CredentialsFile, JsonSerializer.Serialize(new Credentials(server.ToString(), login.Token, login.Email)));
        output.WriteLine($"Signed in as {login.Email}.");
        foreach (var org in login.Organizations) output.WriteLine($"{org.Id}\t{org.Role}\t{org.Name}");
        return Ok;
    }

    private static async Task<int> OrgsAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = SignedIn(options);
        foreach (var org in await client.OrganizationsAsync(cancel)) output.WriteLine($"{org.Id}\t{org.Role}\t{org.Name}");
        return Ok;
    }

    private static long Org(Options options) =>
        long.TryParse(options.Require("org"), out var id) ? id : throw new UsageException("--org takes an Organization ID (a number; see kit orgs).");

    private static async Task<int> ActivateAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = SignedIn(options);
        var machine = options.Get("machine-id") ?? MachineId.Current();
        var lease = await client.ActivateAsync(Org(options), options.Require("product"), machine, cancel);
        var path = options.Get("out") ?? Path.Combine(Home, $"{lease.Product}_{lease.MachineId}.lease");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, lease.LeaseText);
        output.WriteLine($"Activated {lease.Product} on {lease.MachineId} until {lease.ExpiresAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC; lease saved to {path}.");
        return Ok;
    }

    private static async Task<int> DeactivateAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = SignedIn(options);
        var machine = options.Get("machine-id") ?? MachineId.Current();
        await client.DeactivateAsync(Org(options), options.Require("product"), machine, cancel);
        output.WriteLine($"Deactivated {options.Require("product")} on {machine}.");
        return Ok;
    }

    private static async Task<int> CheckoutAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = WithApiKey(options);
        var machine = options.Get("machine-id") ?? MachineId.Current();
        TimeSpan? hold = options.Get("for") is { } seconds
            ? int.TryParse(seconds, out var s) && s >= 0 ? TimeSpan.FromSeconds(s) : throw new UsageException("--for takes a number of seconds.")
            : null;
        await using var session = await client.CheckoutAsync(options.Require("product"), machine, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancel: cancel);
        output.WriteLine($"session {session.Id}");
        output.WriteLine($"Holding a {options.Require("product")} seat on {machine}; heartbeat every {session.HeartbeatInterval.TotalSeconds:0} s. " +
                         (hold is null ? "Ctrl-C releases it." : $"Releasing after {hold.Value.TotalSeconds:0} s."));
        output.Flush();
        try
        {
            await Task.Delay(hold ?? Timeout.InfiniteTimeSpan, cancel);
        }
        catch (OperationCanceledException)
        {
        }
        if (session.Lost is { } lost) throw lost;
        output.WriteLine("Released.");
        return Ok;
    }

    private static async Task<int> ReleaseAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = WithApiKey(options);
        var id = Guid.TryParse(options.Require("session"), out var g) ? g : throw new UsageException("--session takes the session id that checkout printed.");
        await client.ReleaseAsync(id, cancel);
        output.WriteLine($"Released session {id}.");
        return Ok;
    }

    private static async Task<int> PluginsAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = (options.Get("api-key") ?? Environment.GetEnvironmentVariable("KIT_API_KEY")) is not null ? WithApiKey(options) : SignedIn(options);
        switch (options.Positional)
        {
            case "list":
                foreach (var plugin in await client.PluginsAsync(options.Get("search"), cancel))
                    output.WriteLine($"{plugin.Id}\t{plugin.Name}\t{string.Join(",", plugin.Versions.Select(v => v.Version))}");
                return Ok;
            case "download":
                var (id, version) = (options.Require("id"), options.Require("version"));
                var path = options.Get("out") ?? $"{id}-{version}.zip";
                var partial = path + ".partial";
                string sha;
                try
                {
                    await using (var file = File.Create(partial)) sha = await client.DownloadPluginAsync(id, version, file, cancel);
                    File.Move(partial, path, overwrite: true);
                }
                finally
                {
                    File.Delete(partial); // never a half-downloaded package under the real name
                }
                output.WriteLine($"Downloaded {id} {version} to {path} (SHA-256 {sha}).");
                return Ok;
            default:
                throw new UsageException("plugins takes list or download.");
        }
    }

    private static int Verify(Options options, TextWriter output)
    {
        var path = options.Positional ?? throw new UsageException("verify needs the file to check.");
        var payload = new KitVerifier(VendorKey(options)).Verify(File.ReadAllText(path), options.Get("machine-id"));
        output.WriteLine($"VALID: {payload.ProductCode} ({payload.ProductName}) for machine {payload.MachineId}" +
                         (payload.UserEmail is null ? "" : $", user {payload.UserEmail}") +
                         $", organization {payload.OrganizationName}, until {payload.ExpiresAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC");
        return Ok;
    }

    private sealed class Options
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
        public string? Positional { get; private set; }

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal)) { options.Positional ??= args[i]; continue; }
                if (i + 1 >= args.Length) throw new UsageException($"{args[i]} needs a value.");
                options._values[args[i][2..]] = args[++i];
            }
            return options;
        }

        public string? Get(string name) => _values.GetValueOrDefault(name);
        public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required.");
    }
}

public sealed class UsageException(string message) : Exception(message);
