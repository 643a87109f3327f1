using LicenseServer.Data.Database;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LicenseServer.Web.Hosting;

/// <summary>Liveness, readiness (the database answers) and the version; and the one stylesheet.</summary>
internal static class SystemEndpoints
{
    /// <summary>The health checks behind the routes: readiness is the database's.</summary>
    public static IServiceCollection AddKitHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [Ready], timeout: TimeSpan.FromSeconds(3));
        return services;
    }

    public static void MapKitSystemEndpoints(this WebApplication app)
    {
        // Liveness runs no check: the process answers. Readiness runs the database's.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteLiveAsync });
        var ready = new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(Ready),
            ResultStatusCodes = { [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable, [HealthStatus.Degraded] = StatusCodes.Status200OK },
            ResponseWriter = WriteReadyAsync,
        };
        app.MapHealthChecks("/health/ready", ready);
        app.MapHealthChecks("/health", ready);
        app.MapGet("/version", () => Results.Json(new
        {
            product = ServerHost.ApplicationName,
            version = ServerHost.Version,
            schema = Migrator.KnownScripts.LastOrDefault()?.Replace("db-migrations.", ""),
        })).ExcludeFromDescription();
        var css = ReadResource("site.css");
        app.MapGet("/css/site.css", () => Results.Text(css, "text/css")).ExcludeFromDescription();
    }

    private const string Ready = "ready";

    private static Task WriteLiveAsync(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new { status = "live" });

    private static Task WriteReadyAsync(HttpContext context, HealthReport report)
    {
        if (report.Status == HealthStatus.Unhealthy)
        {
            context.Response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds;
            return context.Response.WriteAsJsonAsync(new { status = "unavailable", database = "down" });
        }
        return context.Response.WriteAsJsonAsync(new { status = "ready", database = "up" });
    }

    private static string ReadResource(string name)
    {
        using var stream = typeof(SystemEndpoints).Assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
