using LicenseServer.Data.Accounts;
using LicenseServer.Data.Activation;
using LicenseServer.Data.Alerts;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Mail;
using LicenseServer.Data.Organizations;
using LicenseServer.Data.Settings;
using LicenseServer.Data.DataProtection;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Sessions;
using LicenseServer.Data.Usage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LicenseServer.Data.Database;

public static class DataServiceCollectionExtensions
{
    /// <summary>
    /// Connections per server node, unless the database URL sets "Maximum Pool Size". Every request holds
    /// one for a few short statements, so a few per core keep PostgreSQL busy; more only make backends
    /// compete for the CPU, and a backend holding a pool's row lock then waits behind the others for its
    /// turn to commit (bench/: on 2 cores, 6 connections answered checkouts and activations faster than
    /// 40, with a lower p99; 4 and 10 did no better than 6). Requests beyond it wait for a free connection instead of failing.
    /// </summary>
    public const int DefaultMaxPoolSize = 6;

    public static string WithPoolDefaults(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Pool Size", StringComparison.OrdinalIgnoreCase) && !connectionString.Contains("MaxPoolSize", StringComparison.OrdinalIgnoreCase))
            builder.MaxPoolSize = DefaultMaxPoolSize;
        // The server keeps no session state on a connection (only SET LOCAL, inside transactions), so a
        // pooled connection needs no DISCARD ALL before its next use.
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase))
            builder.NoResetOnClose = true;
        // Planning costs more than running most of the server's statements (a checkout's take ~4 ms to
        // plan, well under 1 ms to run): the ones used again are prepared once per connection.
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase) && !connectionString.Contains("AutoPrepare", StringComparison.OrdinalIgnoreCase))
        {
            builder.MaxAutoPrepare = 200;
            builder.AutoPrepareMinUsages = 2;
        }
        return builder.ConnectionString;
    }

    /// <summary>One NpgsqlDataSource for the process and every repository.</summary>
    public static IServiceCollection AddKitData(this IServiceCollection services, string connectionString)
    {
        DapperTypes.Register();
        services.AddSingleton(_ => NpgsqlDataSource.Create(WithPoolDefaults(connectionString)));
        services.AddSingleton<InstallationRepository>();
        services.AddSingleton<ServerLicenseRepository>();
        services.AddSingleton<UserAccountRepository>();
        services.AddSingleton<SignInFailureRepository>();
        services.AddSingleton<DataProtectionKeyRepository>();
        services.AddSingleton<OrganizationRepository>();
        services.AddSingleton<MemberRepository>();
        services.AddSingleton<InvitationRepository>();
        services.AddSingleton<ImpactRepository>();
        services.AddSingleton<OrganizationListRepository>();
        services.AddSingleton<TeamRepository>();
        services.AddSingleton<MailSettingsRepository>();
        services.AddSingleton<DirectorySettingsRepository>();
        services.AddSingleton<DirectoryAccountRepository>();
        services.AddSingleton<SsoRequestRepository>();
        services.AddSingleton<PasswordResetRepository>();
        services.AddSingleton<UserAdminRepository>();
        services.AddSingleton<AuditRepository>();
        services.AddSingleton<SeatLedger>();
        services.AddSingleton<FloatingSessions>();
        services.AddSingleton<LicenseRepository>();
        services.AddSingleton<LicenseListRepository>();
        services.AddSingleton<MyLicenseRepository>();
        services.AddSingleton<ApiKeyRepository>();
        services.AddSingleton<ClientRepository>();
        services.AddSingleton<MachineActivationRepository>();
        services.AddSingleton<HeartbeatBatcher>();
        services.AddSingleton<ReleaseBatcher>();
        services.AddSingleton<RenewalBatcher>();
        services.AddSingleton<ChurnLimitRepository>();
        services.AddSingleton<ReservationRepository>();
        services.AddSingleton<MachineRuleRepository>();
        services.AddSingleton<UsageRepository>();
        services.AddSingleton<AlertRepository>();
        services.AddSingleton<ServerSettingsRepository>();
        return services;
    }
}
