using System.Diagnostics.Metrics;
using LicenseServer.Data.Metrics;
using LicenseServer.Web.Hosting;
using OpenTelemetry.Metrics;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// GET /metrics: OpenTelemetry's Prometheus exporter, in the text exposition format 0.0.4 (or OpenMetrics to a
/// scraper that asks for it), behind <see cref="MetricsAccess"/>. It exports the server's meter (<see cref="KitMetrics"/>),
/// the .NET runtime's and ASP.NET Core's.
/// </summary>
internal static class MetricsEndpoint
{
    /// <summary>The runtime's and ASP.NET Core's meters, exported beside the server's.</summary>
    public static readonly string[] PlatformMeters =
    [
        "System.Runtime", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics", "Microsoft.AspNetCore.RateLimiting", "Microsoft.AspNetCore.Authentication",
        "Microsoft.AspNetCore.Authorization",
    ];

    public static IServiceCollection AddKitMetrics(this IServiceCollection services, KitOptions options)
    {
        services.AddSingleton<CheckoutCounters>();
        services.AddSingleton<SeatCountRepository>();
        services.AddSingleton<SeatGauges>();
        services.AddSingleton<KitMetrics>();
        services.AddSingleton<RequestMetrics>();
        if (!options.Metrics.Enabled) return services;
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(KitMetrics.MeterName).AddMeter(PlatformMeters);
            // One view, as every view that matches an instrument makes a stream of its own: another host's meters in the
            // same process (the tests run servers one after another in one process) are not this node's, and the seat
            // gauges have room for every organization and product (past the limit, series would merge into an overflow one).
            ((IDeferredMeterProviderBuilder)metrics).Configure((provider, builder) =>
            {
                var own = provider.GetRequiredService<IMeterFactory>();
                builder.AddView(instrument =>
                    instrument.Meter.Scope is IMeterFactory other && other != own ? MetricStreamConfiguration.Drop
                    : instrument.Meter.Name == KitMetrics.MeterName && instrument.Name.StartsWith("kit_seats_", StringComparison.Ordinal)
                        ? new MetricStreamConfiguration { CardinalityLimit = SeatGauges.MaxSeries }
                    : null);
            });
            metrics.AddPrometheusExporter(exporter =>
            {
                // Every scrape is collected afresh: the seat gauges are read from the database for it.
                exporter.ScrapeResponseCacheDurationMilliseconds = 0;
                // The series as Prometheus names them, without OpenTelemetry's resource and scope labels.
                exporter.TargetInfoEnabled = false;
                exporter.ScopeInfoEnabled = false;
            });
        });
        return services;
    }

    public static void MapKitMetrics(this WebApplication app, KitOptions options)
    {
        if (!options.Metrics.Enabled) return;
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: scrape => scrape.Use(GateAsync), optionsName: null)
            .WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]))
            .ExcludeFromDescription();
    }

    /// <summary>Refuses whoever may not read the metrics, and reads the seat counts for those who may.</summary>
    private static async Task GateAsync(HttpContext context, RequestDelegate next)
    {
        var options = context.RequestServices.GetRequiredService<KitOptions>();
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        switch (MetricsAccess.Check(options.Metrics, context.Connection.RemoteIpAddress, ReverseProxy.Peer(context), ReverseProxy.NamesAnotherClient(context.Request),
                    context.Request.Headers.Authorization.ToString()))
        {
            case MetricsVerdict.Unauthorized:
                response.StatusCode = StatusCodes.Status401Unauthorized;
                response.Headers.WWWAuthenticate = "Bearer";
                await response.WriteAsync("Send the metrics token (Kit:Metrics:Token) as Authorization: Bearer <token>.\n");
                return;
            case MetricsVerdict.Forbidden:
                response.StatusCode = StatusCodes.Status403Forbidden;
                await response.WriteAsync("Metrics are served to this machine only, and through a reverse proxy only when it is listed in Kit:Proxy and the "
                    + "original caller is on this machine. To scrape from elsewhere, set Kit:Metrics:Token and send it as a bearer token.\n");
                return;
        }
        await context.RequestServices.GetRequiredService<SeatGauges>().RefreshAsync(context.RequestAborted);
        await next(context);
    }
}
