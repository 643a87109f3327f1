using LicenseServer.Data.Licenses;
using LicenseServer.Data.Plugins;
using LicenseServer.Web.Licenses;
using Microsoft.Net.Http.Headers;

namespace LicenseServer.Web.Api;

public sealed record PluginVersionDto(string Version, string Compatible, string Kind, string Sha256, long Size, DateTimeOffset UploadedAt);
public sealed record PluginDto(string Id, string Name, string Description, IReadOnlyList<PluginVersionDto> Versions);

/// <summary>
/// Clients list the plugins they may see (every offline package, which is the server's, and their
/// organization's private ones) and download a version with its SHA-256, an ETag and range requests.
/// A bearer token or an API key.
/// </summary>
public static class PluginApi
{
    public static void MapPluginApi(this WebApplication app)
    {
        var plugins = app.MapGroup("/api/v1/plugins").WithTags("Plugins");
        plugins.MapGet("", ListAsync).WithName("Plugins").WithSummary("The plugins visible to the caller, with their versions (?search= filters by id or name).")
            .Produces<IReadOnlyList<PluginDto>>();
        plugins.MapGet("/{pluginId}", OneAsync).WithName("Plugin").WithSummary("One plugin's versions.")
            .Produces<PluginDto>();
        plugins.MapGet("/{pluginId}/{version}/download", DownloadAsync).WithName("DownloadPlugin")
            .WithSummary("The package of one version; X-Checksum-SHA256 and the ETag carry its SHA-256; Range requests are served.")
            .Produces(200, contentType: "application/zip").Produces(206);
    }

    private static async Task<IReadOnlyList<long>> OrganizationsAsync(HttpContext context, ClientLicenseService service)
    {
        var caller = await ClientApi.AnyCallerAsync(context, service);
        return caller.OrganizationId is { } org ? [org] : (await service.OrganizationsAsync(caller)).Select(o => o.Id).ToList();
    }

    private static async Task<IResult> ListAsync(HttpContext context, ClientLicenseService service, PluginStore store, string? search)
    {
        var rows = await store.VisibleAsync(await OrganizationsAsync(context, service), search is { Length: > 100 } ? search[..100] : search);
        return Results.Json(Group(rows), ClientApi.Json);
    }

    private static async Task<IResult> OneAsync(string pluginId, HttpContext context, ClientLicenseService service, PluginStore store)
    {
        var rows = await store.VisibleAsync(await OrganizationsAsync(context, service), null, pluginId);
        return rows.Count == 0 ? throw NotFound(pluginId) : Results.Json(Group(rows)[0], ClientApi.Json);
    }

    private static async Task<IResult> DownloadAsync(string pluginId, string version, HttpContext context, ClientLicenseService service, PluginStore store)
    {
        var matches = (await store.VisibleAsync(await OrganizationsAsync(context, service), null, pluginId)).Where(r => r.Version == version).ToList();
        if (matches.Count == 0) throw NotFound($"{pluginId} {version}");
        // Uploads keep a version to one package per organization's view; a person in several organizations may still
        // see two private packages of the same version, and an upgrade may have left an organization's private copy
        // of an offline version. Never guess which one they meant.
        if (matches.Count > 1)
            throw new ApiException(StatusCodes.Status409Conflict, "plugin_ambiguous", matches.Any(m => m.OrganizationId is null)
                ? $"{pluginId} {version} is both an offline package of the server and a private package of your organization. Ask your organization's admins to delete their private one."
                : $"{pluginId} {version} is a private plugin of more than one of your organizations. Download it with an API key of the organization whose package you want.");
        var row = matches[0];
        // The bytes are read from the database chunk by chunk as the response is written (and only the chunks a range covers).
        var bytes = await store.OpenAsync(row.Sha256, context.RequestAborted)
                    ?? throw new ApiException(StatusCodes.Status404NotFound, "plugin_file_missing",
                        $"The package of {pluginId} {version} is missing on the server: ask an admin to delete that version and upload it again.");
        context.Response.Headers["X-Checksum-SHA256"] = row.Sha256;
        return Results.File(bytes, "application/zip", $"{row.PluginId}-{row.Version}.zip", lastModified: row.UploadedAt,
            entityTag: new EntityTagHeaderValue($"\"{row.Sha256}\""), enableRangeProcessing: true);
    }

    private static ApiException NotFound(string what) =>
        new(StatusCodes.Status404NotFound, "plugin_not_found", $"There is no plugin {what} that you may see.");

    private static List<PluginDto> Group(IReadOnlyList<PluginRow> rows) => rows
        .GroupBy(r => r.PluginId)
        .Select(g => new PluginDto(g.Key, g.First().Name, g.First().Description,
            g.Select(r => new PluginVersionDto(r.Version, r.Compatible, r.Kind, r.Sha256, r.SizeBytes, r.UploadedAt)).ToList()))
        .ToList();
}
