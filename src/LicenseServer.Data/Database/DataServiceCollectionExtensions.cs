using LicenseServer.Data.Accounts;
using LicenseServer.Data.Activation;
using LicenseServer.Data.DataProtection;
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
        return services;
    }
}
