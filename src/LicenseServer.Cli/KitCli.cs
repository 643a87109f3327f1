using System.CommandLine;
using System.Text.Json;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Tooling;

namespace LicenseServer.Cli;

/// <summary>
/// The kit command over LicenseServer.Client. Exit codes a CI script can rely on:
/// 0 done, 1 refused by the server or a file failed verification (the code is printed), 2 usage,
/// 3 the server could not be reached.
/// </summary>
public static partial class KitCli
{
    public const int Ok = 0, Refused = 1, Usage = CommandLineTool.UsageError, Unreachable = 3;

    private const string About = """
        kit: sign in to a Kit License Server, activate per-user products, hold floating seats, verify leases and
        offline licenses with the vendor key alone, and download plugins.
        Server and credentials: --server URL or KIT_SERVER; KIT_API_KEY (or --api-key) for floating sessions and plugins;
        the login token is kept in $KIT_HOME (default ~/.kit)/credentials.json, readable by you only. Leases and
        floating seats count only when they verify with the vendor's public key: the one built in, or --vendor-key FILE
        (or KIT_VENDOR_KEY) for a demo server's key.
        Exit codes: 0 done, 1 refused or invalid (the reason's code is printed), 2 usage, 3 server unreachable.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        try
        {
            return await CommandLineTool.InvokeAsync(CommandLineTool.Parse(Commands(output), args), output, error, cancel);
        }
        catch (UsageException e)
        {
            error.WriteLine(e.Message);
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

    /// <summary>Every command of kit with its options; each action writes to <paramref name="output"/>.</summary>
    private static RootCommand Commands(TextWriter output)
    {
        Option<string> Server() => CommandLineTool.Value("--server", "the license server's URL (else KIT_SERVER, else the one signed in to)");
        Option<string> VendorKeyFile() => CommandLineTool.Value("--vendor-key", "the vendor public key to verify with (else KIT_VENDOR_KEY, else the built-in key)");
        Option<string> ApiKey() => CommandLineTool.Value("--api-key", "an API key from the console's API Keys page (else KIT_API_KEY)");
        Option<string> MachineIdOption() => CommandLineTool.Value("--machine-id", "the machine ID (default: this machine's, see kit machine-id)");
        Option<string> Org() => CommandLineTool.Value("--org", "the Organization ID (see kit orgs)", required: true);
        Option<string> Product() => CommandLineTool.Value("--product", "the product code, e.g. KSE", required: true);

        var machineId = new Command("machine-id", "Print this machine's ID (per machine and OS account).");
        machineId.SetAction(_ => Print(output, MachineId.Current()));

        var login = LoginCommand(output, Server(), VendorKeyFile());

        var orgs = new Command("orgs", "List my organizations and my role in each.") { Server(), VendorKeyFile() };
        orgs.SetAction((parsed, cancel) => OrgsAsync(new Options(parsed), output, cancel));

        var activate = new Command("activate", "Activate a per-user product on this machine and save its lease.")
            { Org(), Product(), MachineIdOption(), CommandLineTool.Value("--out", "where to save the lease (default ~/.kit/<product>_<machine>.lease)"), Server(), VendorKeyFile() };
        activate.SetAction((parsed, cancel) => ActivateAsync(new Options(parsed), output, cancel));

        var deactivate = new Command("deactivate", "Deactivate a per-user product on this machine.") { Org(), Product(), MachineIdOption(), Server(), VendorKeyFile() };
        deactivate.SetAction((parsed, cancel) => DeactivateAsync(new Options(parsed), output, cancel));

        var checkout = new Command("checkout", "Hold a floating seat, heartbeating, until Ctrl-C or --for seconds (needs an API key).")
            { Product(), MachineIdOption(), CommandLineTool.Value("--for", "release after this many seconds"), ApiKey(), Server(), VendorKeyFile() };
        checkout.SetAction((parsed, cancel) => CheckoutAsync(new Options(parsed), output, cancel));

        var release = new Command("release", "Release a floating session (needs an API key).")
            { CommandLineTool.Value("--session", "the session id that checkout printed", required: true), ApiKey(), Server(), VendorKeyFile() };
        release.SetAction((parsed, cancel) => ReleaseAsync(new Options(parsed), output, cancel));

        var verify = new Command("verify", "Check a lease, an offline .lic or a floating grant with the vendor key alone.")
            { new Argument<string>("file") { Description = "the file to check" }, VendorKeyFile(), MachineIdOption() };
        verify.SetAction(parsed => Verify(new Options(parsed), output));

        var list = new Command("list", "The plugins I may use (signed in, or with an API key).") { CommandLineTool.Value("--search", "part of a plugin's id or name"), ApiKey(), Server(), VendorKeyFile() };
        list.SetAction((parsed, cancel) => PluginListAsync(new Options(parsed), output, cancel));
        var download = new Command("download", "Download a plugin package; its SHA-256 is checked.")
            { CommandLineTool.Value("--id", "the plugin's id", required: true), CommandLineTool.Value("--version", "the version to download", required: true),
              CommandLineTool.Value("--out", "where to save it (default <id>-<version>.zip)"), ApiKey(), Server(), VendorKeyFile() };
        download.SetAction((parsed, cancel) => PluginDownloadAsync(new Options(parsed), output, cancel));
        var plugins = new Command("plugins", "List and download plugin packages.") { list, download };

        return new RootCommand(About) { machineId, login, orgs, activate, deactivate, checkout, release, verify, plugins };
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

    private static KitClient PluginClient(Options options) =>
        (options.Get("api-key") ?? Environment.GetEnvironmentVariable("KIT_API_KEY")) is not null ? WithApiKey(options) : SignedIn(options);

    private static async Task<int> PluginListAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = PluginClient(options);
        foreach (var plugin in await client.PluginsAsync(options.Get("search"), cancel))
            output.WriteLine($"{plugin.Id}\t{plugin.Name}\t{string.Join(",", plugin.Versions.Select(v => v.Version))}");
        return Ok;
    }

    private static async Task<int> PluginDownloadAsync(Options options, TextWriter output, CancellationToken cancel)
    {
        using var client = PluginClient(options);
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

    /// <summary>The values of the command's options by name, and its one argument (the file of verify).</summary>
    private sealed class Options(ParseResult parsed)
    {
        public string? Positional => parsed.CommandResult.Command.Arguments.FirstOrDefault() is Argument<string> file ? parsed.GetValue(file) : null;
        public string? Get(string name) => CommandLineTool.Text(parsed, name);
        public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required.");
    }
}

public sealed class UsageException(string message) : Exception(message);
