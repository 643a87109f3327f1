using System.CommandLine;
using LicenseServer.Core.Activation;
using LicenseServer.Data.Database;
using LicenseServer.Data.Operations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using LicenseServer.Tooling;

namespace LicenseServer.Web.Commands;

/// <summary>
/// kit-server: runs the server (the default command) and the one-off commands beside it: migrate, check-database,
/// backup, restore, license-request, activate, create-default-account, demo-organization, reset-password, setup-code, version. Every
/// command also takes settings as --Kit:Section:Key=value (or the same without "="), which go to the configuration;
/// anything else on the command line must be a command or one of its options.
/// </summary>
public static class KitCommands
{
    private const string About = """
        kit-server: Kit License Server. Without a command it runs the server; the other commands run beside it with the
        same settings and database, and end. Settings: the settings file (--config PATH or KIT_CONFIG), environment
        variables (Kit__Database__Url) and the command line (--Kit:Database:Url=...); every setting is in
        docs/configuration.md.
        Exit codes: 0 done, 1 refused or failed (the reason is printed), 2 usage.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            return await CommandLineTool.InvokeAsync(CommandLineTool.Parse(Commands(args), WithoutSettings(args)), Console.Out, Console.Error);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return CommandLineTool.UsageError;
        }
        catch (Exception e) when (e is LicenseRejectedException or PasswordRuleException or NewerSchemaException
                                      or FormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine(e is LicenseRejectedException rejected ? $"Refused ({rejected.Code}): {e.Message}" : e.Message);
            return 1;
        }
    }

    private static RootCommand Commands(string[] args)
    {
        var root = new RootCommand(About) { new Option<string>("--config") { Description = "the settings file (else KIT_CONFIG)", Recursive = true } };
        root.SetAction(async _ =>
        {
            await RunServerAsync(args);
            return 0;
        });
        Add(root, "run", "Run the server (the default when no command is given).", [], async command =>
        {
            await RunServerAsync(command.All);
            return 0;
        });

        Add(root, "version", "Print the version.", [], _ =>
        {
            Console.WriteLine($"{ServerHost.ApplicationName} {ServerHost.Version}");
            return Task.FromResult(0);
        });

        Add(root, "check-database", "Check that a database answers and runs PostgreSQL 13 or later (the installers' check); without --url, that the " +
                                    "embedded database's PostgreSQL programs are installed and recent enough. Exit 1 with the reason.",
            [Value("--url", "the database URL (JDBC or Npgsql form)"), Value("--username", "overrides the URL's user"), Value("--password", "overrides the URL's password")],
            command => Task.FromResult(CheckDatabase(command)));

        Add(root, "migrate", "Apply the database migrations and exit.", [], command => WithServerAsync(command, _ =>
        {
            Console.WriteLine($"The database schema is at {Migrator.KnownScripts.Last().Replace("db-migrations.", "")}.");
            return Task.FromResult(0);
        }));

        Add(root, "reset-password", "Set a user's password and end their other sessions. The password is asked for without being shown, " +
                                    "or read from --password, KIT_PASSWORD or standard input.",
            [Value("--email", "the user's email", required: true), Value("--password", "the new password")],
            command => WithServerAsync(command, async app =>
            {
                var email = command.Require("email");
                var password = CommandLineTool.ReadPassword(command.Get("password"), "KIT_PASSWORD", $"New password for {email}: ", Console.Error);
                if (!await app.Services.GetRequiredService<AccountService>().ResetPasswordAsync(email, password))
                {
                    Console.Error.WriteLine($"There is no account with the email {email}.");
                    return 1;
                }
                Console.WriteLine($"The password of {email} has been reset; its other sessions have ended.");
                return 0;
            }));

        Add(root, "license-request", "Write this installation's license request file, for the vendor.",
            [Value("--out", "the file to write", required: true), Value("--company-id", "your company ID, if the vendor gave you one")],
            command => WithServerAsync(command, async app =>
            {
                var request = await app.Services.GetRequiredService<ActivationService>().CreateRequestAsync(command.Get("company-id"));
                var path = command.Require("out");
                await File.WriteAllTextAsync(path, request.ToText());
                Console.WriteLine($"Wrote the license request for installation {request.InstallationId} to {path}.");
                return 0;
            }));

        Add(root, "activate", "Activate the server with the vendor's license file.", [Value("--file", "the .lic file", required: true)],
            command => WithServerAsync(command, async app =>
            {
                var payload = await app.Services.GetRequiredService<ActivationService>().ActivateAsync(await File.ReadAllBytesAsync(command.Require("file")));
                Console.WriteLine($"Activated: {payload.Customer}, {string.Join(", ", payload.Products.Select(p => $"{p.Code} x{p.Quota}"))}.");
                return 0;
            }));

        Add(root, "create-default-account", "Create the one default (server admin) account. The password is asked for without being shown, " +
                                            "or read from --password, KIT_PASSWORD or standard input.",
            [Value("--email", "the account's email", required: true), Value("--password", "its password")],
            command => WithServerAsync(command, async app =>
            {
                var email = command.Require("email");
                var password = CommandLineTool.ReadPassword(command.Get("password"), "KIT_PASSWORD", $"Password for {email}: ", Console.Error);
                if (!await app.Services.GetRequiredService<AccountService>().CreateDefaultAccountAsync(email, password, password))
                {
                    Console.Error.WriteLine("The default account exists already.");
                    return 1;
                }
                Console.WriteLine($"Created the default account {email}.");
                return 0;
            }));

        Add(root, "demo-organization", "Create an organization owned by an existing account, assign it each product, and print an API key of its owner " +
                                       "(installer/demo.sh runs it once).",
            [Value("--owner", "the owner's email", required: true), Value("--name", "the organization's name (default: Demo Organization)")],
            command => WithServerAsync(command, app => DemoOrganization.CreateAsync(app.Services, command.Require("owner"), command.Get("name") ?? "Demo Organization")));

        Add(root, "setup-code", "Make a new setup code for the Setup page (the one made before stops working).", [], command => WithServerAsync(command, async app =>
        {
            var (activated, defaultAccount) = await app.Services.GetRequiredService<LicenseServer.Data.Activation.ServerLicenseRepository>().SetupStateAsync();
            if (defaultAccount)
            {
                Console.Error.WriteLine("The default account exists already: sign in with it (reset-password sets a forgotten password).");
                return 1;
            }
            if (!activated)
            {
                Console.Error.WriteLine("The server is not activated yet: upload the license file first; activation makes the setup code.");
                return 1;
            }
            var codes = app.Services.GetRequiredService<SetupCodeService>();
            var code = await codes.IssueAsync();
            Console.WriteLine($"Setup code: {code}\nEnter it on the Setup page to create the default account (also written to {codes.FilePath}; the code made before no longer works).");
            return 0;
        }));

        Add(root, "backup", "Write a backup: the database (plugin packages included) and the data directory's keys. The server may keep running.",
            [Value("--out", "the .tar.gz file to write", required: true)],
            command => WithServerAsync(command, app =>
            {
                var options = app.Services.GetRequiredService<KitOptions>();
                var path = Path.GetFullPath(command.Require("out"));
                Backup.Create(app.Services.GetRequiredService<DatabaseBootstrap>().ConnectionString, KitOptions.Resolve(options.DataDirectory),
                    path, ServerHost.Version, NullIfEmpty(options.Database.PostgresBinDirectory));
                Console.WriteLine($"Wrote the backup {path}. The server may keep running while a backup is taken: the database dump is one consistent snapshot.");
                Console.WriteLine($"The backup does not hold the secrets key file {SecretsKeyring.KeyFilePath(options)}, without which its secrets cannot be read: " +
                                  "keep a copy of that file safe, apart from the backups.");
                return Task.FromResult(0);
            }));

        var replace = new Option<bool>("--replace") { Description = "replace what the configured database holds (without it, the database must be empty)" };
        Add(root, "restore", "Restore a backup into an empty database, or over the configured one with --replace. Stop the server first.",
            [Value("--file", "the backup to restore", required: true), replace],
            command => WithServerAsync(command, app =>
            {
                var options = app.Services.GetRequiredService<KitOptions>();
                if (app.Services.GetRequiredService<DatabaseBootstrap>().OtherServers() is [var server, ..])
                {
                    Console.Error.WriteLine($"A Kit License Server (process {server.ProcessId}) is running on the data directory {KitOptions.Resolve(options.DataDirectory)}: " +
                                            "a restore would replace its database under it. Stop the server (and every other node of the installation) first, " +
                                            "then restore and start it again. Nothing has been changed.");
                    return Task.FromResult(1);
                }
                var manifest = Backup.Restore(Path.GetFullPath(command.Require("file")), app.Services.GetRequiredService<DatabaseBootstrap>().ConnectionString,
                    KitOptions.Resolve(options.DataDirectory), command.Parsed.GetValue(replace), NullIfEmpty(options.Database.PostgresBinDirectory));
                Console.WriteLine($"Restored the backup of {manifest.CreatedAt:yyyy-MM-dd HH:mm} UTC (version {manifest.Version}). " +
                                  $"Put the secrets key file of the installation it came from at {SecretsKeyring.KeyFilePath(options)}, then start the server " +
                                  "(it applies any newer migrations).");
                return Task.FromResult(0);
            }, migrate: false));

        return root;

        // Each command passes the whole command line but its own name to the configuration, as the server does.
        void Add(RootCommand parent, string name, string description, Option[] options, Func<Invocation, Task<int>> action)
        {
            var command = new Command(name, description);
            foreach (var option in options) command.Options.Add(option);
            command.SetAction(parsed =>
            {
                var index = Array.IndexOf(args, name);
                return action(new Invocation(name, parsed, index >= 0 ? [.. args[..index], .. args[(index + 1)..]] : args));
            });
            parent.Subcommands.Add(command);
        }
    }

    private static Option<string> Value(string name, string description, bool required = false) => CommandLineTool.Value(name, description, required);

    /// <summary>The command being run: its name, what was parsed, and the arguments the configuration reads.</summary>
    private sealed record Invocation(string Verb, ParseResult Parsed, string[] All)
    {
        public string? Get(string name) => CommandLineTool.Text(Parsed, name);

        public string Require(string name) => Get(name) is { Length: > 0 } value ? value : throw new UsageException($"{Verb} needs --{name}.");
    }

    /// <summary>
    /// The arguments the commands parse: all but the settings, --Section:Key=value or --Section:Key followed by its value
    /// (and --urls, and --windows-service, which services registered by earlier versions pass). The settings go to the
    /// configuration with the rest, as the server reads its whole command line.
    /// </summary>
    private static string[] WithoutSettings(string[] args)
    {
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..].Split('=')[0] : "";
            if (name == "windows-service") continue;
            if (!name.Contains(':') && !name.Equals("urls", StringComparison.OrdinalIgnoreCase)) { rest.Add(args[i]); continue; }
            if (!args[i].Contains('=') && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) i++;
        }
        return [.. rest];
    }

    private static async Task RunServerAsync(string[] args)
    {
        // Services registered by earlier versions pass --windows-service; the Windows service host needs no flag now.
        args = args.Where(a => a != "--windows-service").ToArray();
        await using var app = ServerHost.Build(args);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            app.Logger.LogInformation("{Product} {Version} is listening on {Addresses}; console at {ServerUrl}",
                ServerHost.ApplicationName, ServerHost.Version, string.Join(", ", addresses), app.Services.GetRequiredService<KitOptions>().ServerUrl);
        });
        await app.RunAsync();
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static int CheckDatabase(Invocation command)
    {
        if (command.Get("url") is not { } url)
        {
            // The embedded default: the programs the server would run, found as the server finds them.
            var options = ServerHost.ReadOptions(command.All);
            var cluster = new PostgresCluster(KitOptions.Resolve(options.DataDirectory), options.Database.EmbeddedPort,
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, NullIfEmpty(options.Database.PostgresBinDirectory));
            var programs = cluster.ProgramVersion();
            cluster.RequireSupportedVersion();
            Console.WriteLine($"The embedded database can run: {programs}.");
            return 0;
        }
        var connectionString = DatabaseUrl.ToConnectionString(url, command.Get("username"), command.Get("password"));
        try
        {
            var version = DatabaseBootstrap.RequireSupportedServer(new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Timeout = 5 }.ConnectionString);
            Console.WriteLine($"Connected to {DatabaseUrl.Describe(connectionString)} (PostgreSQL {version}).");
            return 0;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"Cannot connect to {DatabaseUrl.Describe(connectionString)}: {e.Message}");
            return 1;
        }
    }

    /// <summary>A one-off command: the same configuration, database and migrations as the server, without listening.</summary>
    private static async Task<int> WithServerAsync(Invocation command, Func<WebApplication, Task<int>> action, bool migrate = true)
    {
        var app = ServerHost.Build(command.All, migrate, role: command.Verb);
        try
        {
            return await action(app);
        }
        finally
        {
            app.Services.GetRequiredService<DatabaseBootstrap>().StopEmbedded();
            await app.DisposeAsync();
        }
    }
}
