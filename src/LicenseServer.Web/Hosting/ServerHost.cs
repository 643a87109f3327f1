using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Security;
using LicenseServer.Data.Database;
using LicenseServer.Data.Operations;
using LicenseServer.Data.DataProtection;
using LicenseServer.Data.Plugins;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Admin;
using LicenseServer.Web.Alerts;
using LicenseServer.Web.Api;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Mail;
using LicenseServer.Web.Metrics;
using LicenseServer.Web.Organizations;
using LicenseServer.Web.Usage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;
using NLog.Extensions.Logging;

namespace LicenseServer.Web.Hosting;

/// <summary>Composes the server: configuration, logs, database, services, pipeline. Used by every command and by the tests.</summary>
public static class ServerHost
{
    public const string ApplicationName = "Kit License Server";

    /// <summary>The Windows service install.ps1 registers; its virtual account is NT SERVICE\KitLicenseServer.</summary>
    public const string WindowsServiceName = "KitLicenseServer";

    public static string Version { get; } =
        typeof(ServerHost).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Builds the server with its database started and migrated; the caller runs or disposes it.</summary>
    /// <param name="migrate">False for restore, which must find the database as it is (empty).</param>
    /// <param name="clock">The server's clock; tests pass one they control. The system clock otherwise.</param>
    /// <param name="role">What this process is, as recorded in the data directory: the server, or a one-off command's name.</param>
    public static WebApplication Build(string[] args, bool migrate = true, TimeProvider? clock = null, string role = DataDirectoryProcesses.Server)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(ServerHost).Assembly.GetName().Name,
        });
        AddSettingsFile(builder.Configuration, args);
        var options = builder.Configuration.GetSection("Kit").Get<KitOptions>() ?? new KitOptions();
        DemoMode.Check(options.Demo);
        // systemd: Type=notify readiness and journal-friendly logs when started by systemd; nothing otherwise.
        builder.Host.UseSystemd();
        // SIGTERM (systemd stop) or Ctrl+C: in-flight requests get this long to finish.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.UseKitLogging(options.Logs, SettingsFile(args));
        // Windows: when started by the Service Control Manager, the service's lifetime (Stop ends the host gracefully)
        // and warnings and errors to the Application event log too. After the logging above, which clears the
        // providers. Nothing otherwise, as UseSystemd elsewhere.
        builder.Host.UseWindowsService(o => o.ServiceName = WindowsServiceName);
        if (OperatingSystem.IsWindows()) NameEventLogSource(builder.Services);

        using var bootLoggerFactory = LoggerFactory.Create(l => l.AddNLog());
        var bootLogger = bootLoggerFactory.CreateLogger("LicenseServer.Startup");
        builder.UseKitHttps(options, clock ?? TimeProvider.System, bootLogger);
        var proxies = ReverseProxy.Options(options.Proxy, builder.Configuration);
        if (proxies is not null)
            bootLogger.LogInformation("Behind a reverse proxy: X-Forwarded-For and X-Forwarded-Proto are believed from {Proxies}",
                string.Join(", ", options.Proxy.KnownProxies.Concat(options.Proxy.KnownNetworks).Select(p => p.Trim())));
        var database = DatabaseBootstrap.Open(options, bootLogger, role);
        try
        {
            if (migrate) database.Migrate(bootLogger);
            var app = Compose(builder, options, proxies, database, migrate, clock ?? TimeProvider.System);
            app.Lifetime.ApplicationStopped.Register(database.StopEmbedded);
            return app;
        }
        catch
        {
            database.StopEmbedded();
            throw;
        }
    }

    /// <summary>The event source install.ps1 registers (an unregistered one would need rights the service does not have).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    private static void NameEventLogSource(IServiceCollection services) =>
        services.Configure<Microsoft.Extensions.Logging.EventLog.EventLogSettings>(o => o.SourceName = ApplicationName);

    /// <summary>The settings as the server reads them, for a command that needs them without building the server.</summary>
    public static KitOptions ReadOptions(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false)
            .AddEnvironmentVariables()
            .AddCommandLine(args);
        AddSettingsFile(configuration, args);
        return configuration.Build().GetSection("Kit").Get<KitOptions>() ?? new KitOptions();
    }

    /// <summary>The settings file: --config PATH (the Windows service's command line), else KIT_CONFIG (the systemd unit).</summary>
    private static string? SettingsFile(string[] args)
    {
        var configIndex = Array.IndexOf(args, "--config");
        var configArgument = configIndex >= 0 && configIndex + 1 < args.Length ? args[configIndex + 1] : null;
        var file = configArgument ?? Environment.GetEnvironmentVariable("KIT_CONFIG");
        return string.IsNullOrEmpty(file) ? null : file;
    }

    /// <summary>Adds the settings file, if any; the environment and the command line still win over it.</summary>
    private static void AddSettingsFile(IConfigurationBuilder configuration, string[] args)
    {
        if (SettingsFile(args) is not { } configFile) return;
        configuration.AddJsonFile(configFile, optional: false, reloadOnChange: false);
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(args);
    }

    private static WebApplication Compose(WebApplicationBuilder builder, KitOptions options, ForwardedHeadersOptions? proxies, DatabaseBootstrap database, bool ready, TimeProvider clock)
    {
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(database);
        services.AddSingleton(clock);
        services.AddKitData(database.ConnectionString);

        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.AddSingleton(sp => SecretsKeyring.Open(options, sp.GetRequiredService<DataProtectionKeyRepository>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("LicenseServer.Secrets")));
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(
            o => o.XmlRepository = new PostgresXmlRepository(sp.GetRequiredService<DataProtectionKeyRepository>(), sp.GetRequiredService<SecretsKey>)));

        services.AddSingleton(_ => new TrustedVendorKeys(TrustedKeys(options)));
        services.AddSingleton<SetupCodeService>();
        if (ready) services.AddHostedService(sp => sp.GetRequiredService<SetupCodeService>());
        services.AddSingleton<ActivationService>();
        services.AddSingleton<ClockGuard>();
        if (ready) services.AddHostedService(sp => sp.GetRequiredService<ClockGuard>());
        services.AddSingleton<ExpiryWatch>();
        if (ready) services.AddHostedService(sp => sp.GetRequiredService<ExpiryWatch>());
        services.AddSingleton<AccountService>();
        services.AddSingleton<PasswordResetService>();
        services.AddSingleton<AccountMailQueue>();
        if (ready) services.AddHostedService(sp => sp.GetRequiredService<AccountMailQueue>());
        services.AddSingleton<Links>();
        services.AddSingleton<MailService>();
        services.AddSingleton<OrganizationService>();
        services.AddSingleton<InvitationService>();
        services.AddSingleton<TeamService>();
        services.AddSingleton<UserAdminService>();
        services.AddSingleton<ServerSettingsService>();
        services.AddSingleton<DirectorySettingsService>();
        services.AddSingleton<DirectorySignInService>();
        services.AddSingleton<SingleSignOn>();
        services.AddHttpClient(nameof(SingleSignOn), c => c.Timeout = TimeSpan.FromSeconds(10));
        services.AddSingleton<DirectoryRecheck>();
        if (ready) services.AddHostedService(sp => sp.GetRequiredService<DirectoryRecheck>());
        services.AddSingleton<EffectiveLimits>();
        services.AddSingleton<LicenseService>();
        services.AddSingleton<ClientLicenseService>();
        services.AddSingleton<SeatWatch>();
        services.AddSingleton<UsageService>();
        services.AddSingleton<UsageSampler>();
        services.AddSingleton<AlertTrigger>();
        services.AddSingleton<AlertSettingsService>();
        services.AddSingleton<WebhookSender>();
        services.AddKitHealthChecks();
        services.AddSingleton<AlertDispatcher>();
        if (ready)
        {
            // Usage and usage alerts in the background, on a migrated database only (not during a restore).
            services.AddHostedService(sp => sp.GetRequiredService<UsageSampler>());
            services.AddHostedService(sp => sp.GetRequiredService<AlertDispatcher>());
        }
        services.AddSingleton(sp => new PluginStore(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), KitOptions.Resolve(options.DataDirectory)));
        services.AddSingleton(sp => new PluginFileImport(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), KitOptions.Resolve(options.DataDirectory),
            sp.GetRequiredService<ILogger<PluginFileImport>>()));
        services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(o => o.MultipartBodyLengthLimit = PluginUploads.MaxBytes(options) + 1024 * 1024);
        services.AddKitMetrics(options);
        services.AddOpenApi("v1", LicenseServer.Web.Api.ApiDocument.Configure);
        services.AddKitAuthentication(options);
        services.AddRazorPages(o =>
        {
            o.Conventions.AuthorizeFolder("/");
            o.Conventions.AuthorizeFolder("/Admin", AuthenticationSetup.ServerAdminPolicy);
            o.Conventions.AddFolderApplicationModelConvention("/Organizations", m => m.Filters.Add(new OrganizationAccessFilter()));
            o.Conventions.AllowAnonymousToPage("/Activate");
            o.Conventions.AllowAnonymousToPage("/Setup");
            o.Conventions.AllowAnonymousToPage("/Account/SignIn");
            o.Conventions.AllowAnonymousToPage("/Account/ForgotPassword");
            o.Conventions.AllowAnonymousToPage("/Account/ResetPassword");
            o.Conventions.AllowAnonymousToPage("/Invitation");
            o.Conventions.AllowAnonymousToPage("/Error");
        });
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = CookieNames.Antiforgery(options);
            o.Cookie.SecurePolicy = CookieNames.SecurePolicy(options);
        });

        var app = builder.Build();
        if (ready)
        {
            // The secrets key first: a node without the right key file stops here, before it reads or makes anything.
            app.Services.GetRequiredService<SecretsKey>();
            app.Services.GetRequiredService<ActivationService>().EnsureIdentityAsync().GetAwaiter().GetResult();
            // A setting may only tighten the vendor's limits: one that the active .lic does not allow stops every command, as a bad certificate does.
            app.Services.GetRequiredService<EffectiveLimits>().RequireSettingsAllowedAsync().GetAwaiter().GetResult();
            // Package files that an older version kept in this node's data directory move into the database, before any
            // request: from then on every node serves them.
            app.Services.GetRequiredService<PluginFileImport>().RunAsync().GetAwaiter().GetResult();
        }

        // First: everything after it sees the caller's address and scheme as the trusted proxy forwarded them.
        app.UseKitReverseProxy(proxies);
        app.UseMiddleware<RequestTiming>();
        app.UseKitSecurityHeaders(options);
        // The console renders errors as pages; the client API as problem+json.
        app.UseWhen(c => !c.Request.Path.StartsWithSegments("/api"), console =>
        {
            // Text PostgreSQL cannot store is the sender's mistake (400), should any slip past ConsoleInputGuard.
            console.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandlingPath = "/Error", StatusCodeSelector = InputGuard.ConsoleStatusOf });
            console.UseStatusCodePagesWithReExecute("/Error", "?code={0}");
        });
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/api"), api => api.UseMiddleware<ApiProblems>());
        app.UseMiddleware<DatabaseOutage>(); // inside the error pages, around everything that reads the database
        app.Use(PluginUploads.AllowLargeBody(options));
        app.Use(ConsoleBodyLimit.InvokeAsync);
        app.UseRouting(); // after the error pages, so that a re-executed /Error is routed again
        app.UseKitRequestRoute();
        app.UseAuthentication();
        app.UseMiddleware<ActivationGate>();
        app.UseAuthorization();
        // After authorization: a form is read only for whoever may open the page.
        app.Use(ConsoleInputGuard.InvokeAsync);
        app.MapKitSystemEndpoints();
        app.MapKitMetrics(options);
        app.MapOpenApi("/api/v1/openapi.json");
        app.MapClientApi();
        app.MapSingleSignOn();
        app.MapRazorPages();
        return app;
    }

    private static IEnumerable<PublicKey> TrustedKeys(KitOptions options)
    {
        yield return TrustedVendorKeys.BuiltIn();
        if (options.Demo.Enabled && !string.IsNullOrWhiteSpace(options.Demo.VendorPublicKeyFile))
            yield return KeyFiles.ReadPublic(File.ReadAllText(KitOptions.Resolve(options.Demo.VendorPublicKeyFile)));
    }
}
