using LicenseServer.Data.Accounts;
using LicenseServer.Data.Activation;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Mail;
using LicenseServer.Data.Organizations;
using LicenseServer.Data.DataProtection;
using LicenseServer.Data.Licenses;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LicenseServer.Data.Database;

public static class DataServiceCollectionExtensions
{
    /// <summary>One NpgsqlDataSource for the process and every repository.</summary>
    public static IServiceCollection AddKitData(this IServiceCollection services, string connectionString)
    {
        Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.AddSingleton<InstallationRepository>();
        services.AddSingleton<ServerLicenseRepository>();
        services.AddSingleton<UserAccountRepository>();
        services.AddSingleton<SignInFailureRepository>();
        services.AddSingleton<DataProtectionKeyRepository>();
        services.AddSingleton<OrganizationRepository>();
        services.AddSingleton<MemberRepository>();
        services.AddSingleton<InvitationRepository>();
        services.AddSingleton<TeamRepository>();
        services.AddSingleton<MailSettingsRepository>();
        services.AddSingleton<PasswordResetRepository>();
        services.AddSingleton<UserAdminRepository>();
        services.AddSingleton<AuditRepository>();
        services.AddSingleton<SeatLedger>();
        services.AddSingleton<LicenseRepository>();
        services.AddSingleton<ApiKeyRepository>();
        services.AddSingleton<ClientRepository>();
        return services;
    }
}
