using LicenseServer.Core.Activation;
using LicenseServer.Data.Database;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace LicenseServer.Web.Commands;

/// <summary>kit-server [run] | migrate | reset-password | license-request | activate | create-default-account | setup-code | backup | restore | check-database | version</summary>
public static class KitCommands
{
    public const string Usage = """
        Usage: kit-server [command] [options] [--Kit:Setting=value ...]
          run                      start the server (the default)
          migrate                  apply database migrations and exit
          reset-password           --email E [--password P]  set a user's password (reads it from stdin without --password)
          license-request          [--company-id C] --out FILE  write this installation's license request file
          activate                 --file FILE.lic  activate the server with a vendor license file
          create-default-account   --email E [--password P]  create the one default (server admin) account
          setup-code               make a new setup code for the Setup page (the one before stops working)
          backup                   --out FILE  write a backup: the database (pg_dump) and the data directory's plugins and keys; the server may keep running
          restore                  --file FILE [--replace]  restore a backup into an empty database (or replace what it holds); stop the server first
          check-database           [--url URL]  check that a database URL answers and runs PostgreSQL 13 or later (the installers' check);
                                   without --url, that the embedded database's PostgreSQL programs are installed and recent enough. Exit 1 with the reason
          version                  print the version
        Settings: see appsettings.sample.json; any can be given as --Kit:Section:Key=value or KIT__SECTION__KEY.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var command = CommandLine.Parse(args);
        try
        {
            switch (command.Verb)
            {
                case "run":
                    await RunServerAsync(command.All);
                    return 0;
                case "version":
                    Console.WriteLine($"{ServerHost.ApplicationName} {ServerHost.Version}");
                    return 0;
                case "help" or "--help" or "-h":
                    Console.WriteLine(Usage);
                    return 0;
                case "check-database":
                    return CheckDatabase(command);
                case "migrate":
                    return await WithServerAsync(command, _ =>
                    {
                        Console.WriteLine($"The database schema is at {Migrator.KnownScripts.Last().Replace("db-migrations.", "")}.");
                        return Task.FromResult(0);
                    });
                case "reset-password":
                    return await WithServerAsync(command, async app =>
                    {
                        var email = command.Require("email");
                        var password = command.Get("password") ?? Console.In.ReadLine() ?? "";
                        if (!await app.Services.GetRequiredService<AccountService>().ResetPasswordAsync(email, password))
                        {
                            Console.Error.WriteLine($"There is no account with the email {email}.");
                            return 1;
                        }
                        Console.WriteLine($"The password of {email} has been reset; its other sessions have ended.");
                        return 0;
                    });
                case "license-request":
                    return await WithServerAsync(command, async app =>
                    {
                        var request = await app.Services.GetRequiredService<ActivationService>().CreateRequestAsync(command.Get("company-id"));
                        var path = command.Require("out");
                        await File.WriteAllTextAsync(path, request.ToText());
                        Console.WriteLine($"Wrote the license request for installation {request.InstallationId} to {path}.");
                        return 0;
                    });
                case "activate":
                    return await WithServerAsync(command, async app =>
                    {
                        var payload = await app.Services.GetRequiredService<ActivationService>()
                            .ActivateAsync(await File.ReadAllBytesAsync(command.Require("file")));
                        Console.WriteLine($"Activated: {payload.Customer}, {string.Join(", ", payload.Products.Select(p => $"{p.Code} x{p.Quota}"))}.");
                        return 0;
                    });
                case "create-default-account":
                    return await WithServerAsync(command, async app =>
                    {
                        var email = command.Require("email");
                        var password = command.Get("password") ?? Console.In.ReadLine() ?? "";
                        if (!await app.Services.GetRequiredService<AccountService>().CreateDefaultAccountAsync(email, password, password))
                        {
                            Console.Error.WriteLine("The default account exists already.");
                            return 1;
                        }
                        Console.WriteLine($"Created the default account {email}.");
                        return 0;
                    });
                case "setup-code":
                    return await WithServerAsync(command, async app =>
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
                    });
                case "backup":
                    return await WithServerAsync(command, app =>
                    {
                        var options = app.Services.GetRequiredService<KitOptions>();
                        var path = Path.GetFullPath(command.Require("out"));
                        Backup.Create(app.Services.GetRequiredService<DatabaseBootstrap>().ConnectionString, KitOptions.Resolve(options.DataDirectory),
                            path, ServerHost.Version, NullIfEmpty(options.Database.PostgresBinDirectory));
                        Console.WriteLine($"Wrote the backup {path}. The server may keep running while a backup is taken: the database dump is one consistent snapshot.");
                        Console.WriteLine($"The backup does not hold the secrets key file {SecretsKeyring.KeyFilePath(options)}, without which its secrets cannot be read: " +
                                          "keep a copy of that file safe, apart from the backups.");
                        return Task.FromResult(0);
                    });
                case "restore":
                    return await WithServerAsync(command, app =>
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
                            KitOptions.Resolve(options.DataDirectory), command.Get("replace") == "true", NullIfEmpty(options.Database.PostgresBinDirectory));
                        Console.WriteLine($"Restored the backup of {manifest.CreatedAt:yyyy-MM-dd HH:mm} UTC (version {manifest.Version}). " +
                                          $"Put the secrets key file of the installation it came from at {SecretsKeyring.KeyFilePath(options)}, then start the server " +
                                          "(it applies any newer migrations).");
                        return Task.FromResult(0);
                    }, migrate: false);
                default:
                    Console.Error.WriteLine($"Unknown command \"{command.Verb}\".\n{Usage}");
                    return 2;
            }
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"{e.Message}\n{Usage}");
            return 2;
        }
        catch (Exception e) when (e is LicenseRejectedException or PasswordRuleException or NewerSchemaException
                                      or FormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine(e is LicenseRejectedException rejected ? $"Refused ({rejected.Code}): {e.Message}" : e.Message);
            return 1;
        }
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

    private static int CheckDatabase(CommandLine command)
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
    private static async Task<int> WithServerAsync(CommandLine command, Func<WebApplication, Task<int>> action, bool migrate = true)
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
