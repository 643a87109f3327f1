using LicenseServer.Core.Licenses;
using LicenseServer.Data.Usage;
using LicenseServer.Web.Alerts;

namespace LicenseServer.Web.Licenses;

/// <summary>
/// Wraps every path that takes a seat, at the service layer, for usage and usage alerts: a refusal for lack of seats
/// or limits (<see cref="SeatRefusals"/>) is recorded on a connection of its own, since the ledger's
/// transaction has rolled back, and rethrown; seats taken may raise a usage alert. Neither ever waits
/// for an alert to be delivered.
/// </summary>
public sealed class SeatWatch(UsageRepository usage, AlertTrigger alerts, TimeProvider clock, ILogger<SeatWatch> logger)
{
    /// <summary>Runs <paramref name="take"/>, which takes seats of <paramref name="product"/> (or, with <paramref name="takesSeat"/> false, only uses them).</summary>
    public async Task<T> TakeAsync<T>(long organizationId, string product, long? userId, string? machineId, Func<Task<T>> take, bool takesSeat = true)
    {
        T result;
        try
        {
            result = await take();
        }
        catch (LicenseRuleException e) when (e.IsSeatRefusal())
        {
            await RefusedAsync(organizationId, product, e.Code, userId, machineId);
            throw;
        }
        if (takesSeat) alerts.SeatsTaken(organizationId, product);
        return result;
    }

    public Task TakeAsync(long organizationId, string product, long? userId, string? machineId, Func<Task> take) =>
        TakeAsync(organizationId, product, userId, machineId, async () => { await take(); return true; });

    /// <summary>Seats of <paramref name="product"/> were taken outside <see cref="TakeAsync{T}"/>.</summary>
    public void Taken(long organizationId, string product) => alerts.SeatsTaken(organizationId, product);

    /// <summary>Records a refusal; a failure to record is logged and never hides the refusal itself.</summary>
    public async Task RefusedAsync(long organizationId, string product, string code, long? userId, string? machineId)
    {
        try
        {
            await usage.RecordRefusalAsync(organizationId, product, code, userId, machineId, clock.GetUtcNow());
        }
        catch (Exception e)
        {
            logger.LogWarning("Recording a refused {Product} seat in organization {Organization} failed: {Reason}", product, organizationId, e.Message);
        }
        alerts.SeatRefused(organizationId, product, code);
    }
}
