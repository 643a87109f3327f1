using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Web.Hosting;

/// <summary>I6: liveness, readiness (the database answers) and the version; and the one stylesheet.</summary>
internal static class SystemEndpoints
{
    public static void MapKitSystemEndpoints(this WebApplication app)
    {
        app.MapGet("/health/live", () => Results.Json(new { status = "live" }));
        app.MapGet("/health/ready", Ready);
        app.MapGet("/health", Ready);
        app.MapGet("/version", () => Results.Json(new
        {
            product = ServerHost.ApplicationName,
            version = ServerHost.Version,
            schema = Migrator.KnownScripts.LastOrDefault()?.Replace("db-migrations.", ""),
        }));
        var css = ReadResource("site.css");
        app.MapGet("/css/site.css", () => Results.Text(css, "text/css"));
    }

    private static async Task<IResult> Ready(NpgsqlDataSource db, CancellationToken cancel)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var command = db.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return Results.Json(new { status = "ready", database = "up" });
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return Results.Json(new { status = "unavailable", database = "down" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static string ReadResource(string name)
    {
        using var stream = typeof(SystemEndpoints).Assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
