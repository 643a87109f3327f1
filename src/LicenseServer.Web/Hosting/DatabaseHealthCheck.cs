using LicenseServer.Data.Database;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Ready when the database answers a query within the check's timeout. Retried like any read: the first probe after a
/// database restart meets a dead pooled connection, which says nothing about the database.
/// </summary>
internal sealed class DatabaseHealthCheck(NpgsqlDataSource db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancel = default)
    {
        try
        {
            await DatabaseFaults.RetryAsync(db, async _ =>
            {
                await using var command = db.CreateCommand("SELECT 1");
                return await command.ExecuteScalarAsync(cancel);
            });
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }
}
