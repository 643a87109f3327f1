using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Web.Hosting;

/// <summary>Liveness, readiness (the database answers) and the version; and the one stylesheet.</summary>
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

    private static async Task<IResult> Ready(HttpContext context, NpgsqlDataSource db, CancellationToken cancel)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            // Retried like any read: the first probe after a database restart meets a dead pooled connection.
            await DatabaseFaults.RetryAsync(db, async _ =>
            {
                await using var command = db.CreateCommand("SELECT 1");
                return await command.ExecuteScalarAsync(timeout.Token);
            });
            return Results.Json(new { status = "ready", database = "up" });
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            context.Response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds;
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
