using LicenseServer.Data.Licenses;
using LicenseServer.Web.Licenses;

namespace LicenseServer.Web.Api;

public sealed record MyLicenseDto(long OrganizationId, string OrganizationName, string Product, string ProductName, DateTimeOffset AssignedAt);
public sealed record MyMachineDto(long OrganizationId, string Product, string MachineId, DateTimeOffset ActivatedAt, DateTimeOffset LastSeenAt, DateTimeOffset LeaseExpiresAt);
public sealed record MySessionDto(long OrganizationId, string Product, string MachineId, string ProcessId, DateTimeOffset StartedAt, DateTimeOffset ExpiresAt);
public sealed record MyLicensesResponse(IReadOnlyList<MyLicenseDto> Licenses, IReadOnlyList<MyMachineDto> Machines, IReadOnlyList<MySessionDto> Sessions);

/// <summary>What the signed-in person holds, for a client that must say which machine to free (after <c>machine_limit</c>).</summary>
public static class MeApi
{
    public static void MapMeApi(this RouteGroupBuilder v1) =>
        v1.MapGet("/me/licenses", LicensesAsync).WithName("MyLicenses")
            .WithSummary("My licenses in every organization I belong to, my active machines with their lease end, and my live floating sessions.")
            .Produces<MyLicensesResponse>();

    private static async Task<IResult> LicensesAsync(HttpContext context, ClientLicenseService service, MyLicenseRepository mine)
    {
        var caller = await ClientApi.BearerAsync(context, service);
        var held = await mine.ForUserAsync(caller.UserId);
        static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
        return Results.Json(new MyLicensesResponse(
            held.Assignments.Select(a => new MyLicenseDto(a.OrganizationId, a.OrganizationName, a.ProductCode, a.ProductName, Utc(a.AssignedAt))).ToList(),
            held.Machines.Select(m => new MyMachineDto(m.OrganizationId, m.ProductCode, m.MachineId, Utc(m.ActivatedAt), Utc(m.LastSeenAt), Utc(m.LeaseExpiresAt))).ToList(),
            held.Sessions.Select(s => new MySessionDto(s.OrganizationId, s.ProductCode, s.MachineId, s.ProcessId, Utc(s.StartedAt), Utc(s.ExpiresAt))).ToList()),
            ClientApi.Json);
    }
}
