using System.Diagnostics;
using System.Globalization;
using System.Text;
using LicenseServer.Data.Metrics;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Metrics;

/// <summary>GET /metrics in the Prometheus text exposition format 0.0.4.</summary>
internal static class MetricsEndpoint
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IServiceCollection AddKitMetrics(this IServiceCollection services)
    {
        services.AddSingleton<RequestMetrics>();
        services.AddSingleton<CheckoutCounters>();
        services.AddSingleton<SeatCountRepository>();
        return services;
    }

    public static void MapKitMetrics(this WebApplication app, KitOptions options)
    {
        if (options.Metrics.Enabled) app.MapGet("/metrics", ScrapeAsync).ExcludeFromDescription();
    }

    private static async Task ScrapeAsync(HttpContext context, KitOptions options, RequestMetrics requests, CheckoutCounters checkouts,
        SeatCountRepository seats, TimeProvider clock, ILogger<RequestMetrics> logger)
    {
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
        SeatCounts? counts = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            counts = await seats.CountAsync(clock.GetUtcNow(), timeout.Token);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException && !context.RequestAborted.IsCancellationRequested)
        {
            // The node's own counters are still worth reading; kit_database_up says why the seats are missing.
            logger.LogWarning("Metrics: the seat counts could not be read: {Reason}", e.Message);
        }
        response.ContentType = ContentType;
        await response.WriteAsync(Write(requests, checkouts, counts));
    }

    public static string Write(RequestMetrics requests, CheckoutCounters checkouts, SeatCounts? counts)
    {
        var text = new PrometheusText();
        text.Family("kit_build_info", "gauge", "The server's version; always 1.");
        text.Sample("kit_build_info", 1, ("version", ServerHost.Version));
        using (var process = Process.GetCurrentProcess())
        {
            text.Family("process_cpu_seconds_total", "counter", "CPU time this node's process has used, in seconds.");
            text.Sample("process_cpu_seconds_total", process.TotalProcessorTime.TotalSeconds);
            text.Family("process_resident_memory_bytes", "gauge", "Resident memory of this node's process, in bytes.");
            text.Sample("process_resident_memory_bytes", process.WorkingSet64);
            text.Family("process_start_time_seconds", "gauge", "When this node's process started, in Unix seconds.");
            text.Sample("process_start_time_seconds", new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        }
        // A node compiles its hot code again, optimized, in its first minutes under load: until these stop
        // growing, its CPU figures are not yet those of the steady state.
        text.Family("dotnet_jit_compiled_methods_total", "counter", "Methods the .NET JIT compiler has compiled in this node's process, recompilations included.");
        text.Sample("dotnet_jit_compiled_methods_total", System.Runtime.JitInfo.GetCompiledMethodCount());
        text.Family("dotnet_jit_compilation_seconds_total", "counter", "Time this node's process has spent in the .NET JIT compiler, in seconds.");
        text.Sample("dotnet_jit_compilation_seconds_total", System.Runtime.JitInfo.GetCompilationTime().TotalSeconds);

        text.Family("kit_checkouts_granted_total", "counter", "Floating checkouts (POST /api/v1/sessions) this node granted since it started; per node: add the nodes up.");
        text.Sample("kit_checkouts_granted_total", checkouts.GrantedCount);
        text.Family("kit_checkouts_refused_total", "counter", "Floating checkouts this node refused since it started, by the problem code of the answer (error: failed unexpectedly); per node.");
        foreach (var (code, count) in checkouts.RefusedCounts()) text.Sample("kit_checkouts_refused_total", count, ("code", code));

        const string duration = "kit_http_request_duration_seconds";
        text.Family(duration, "histogram", "Time this node took to answer HTTP requests, in seconds, by route template, method and status class; per node.");
        foreach (var (route, method, status, histogram) in requests.Series())
        {
            var (cumulative, sum) = histogram.Snapshot();
            for (var i = 0; i < Histogram.Bounds.Length; i++)
                text.Sample(duration + "_bucket", cumulative[i], ("route", route), ("method", method), ("status", status), ("le", PrometheusText.Number(Histogram.Bounds[i])));
            text.Sample(duration + "_bucket", cumulative[^1], ("route", route), ("method", method), ("status", status), ("le", "+Inf"));
            text.Sample(duration + "_sum", sum, ("route", route), ("method", method), ("status", status));
            text.Sample(duration + "_count", cumulative[^1], ("route", route), ("method", method), ("status", status));
        }

        text.Family("kit_database_up", "gauge", "1 when the database answered this scrape's seat counts, else 0 (and the seat metrics are missing).");
        text.Sample("kit_database_up", counts is null ? 0 : 1);
        if (counts is null) return text.ToString();
        text.Family("kit_seats_in_use", "gauge", "Seats in use per organization and product (assignments, leases still valid offline, offline licenses, live floating sessions), counted in the database at scrape time: the same on every node.");
        foreach (var share in counts.Shares) text.Sample("kit_seats_in_use", share.InUse, Org(share), ("product", share.ProductCode));
        text.Family("kit_seats_share", "gauge", "Seats of each product the server admin gave each organization (its share of the license's quota).");
        foreach (var share in counts.Shares) text.Sample("kit_seats_share", share.Quota, Org(share), ("product", share.ProductCode));
        text.Family("kit_license_seats", "gauge", "Seats of each product in the server's license.");
        foreach (var product in counts.Licensed) text.Sample("kit_license_seats", product.Quota, ("product", product.ProductCode));
        text.Family("kit_license_valid_until_seconds", "gauge", "When the server's license ends, in Unix seconds; missing when no license is active or it never ends.");
        if (counts.LicenseValidUntil is { } until)
            text.Sample("kit_license_valid_until_seconds", until.ToUnixTimeSeconds());
        text.Family("kit_organization_info", "gauge", "The name of each organization with a share, to join with the seat metrics by organization_id; always 1.");
        foreach (var share in counts.Shares.DistinctBy(s => s.OrganizationId))
            text.Sample("kit_organization_info", 1, Org(share), ("name", share.OrganizationName));
        return text.ToString();

        static (string, string) Org(ShareCount share) => ("organization_id", share.OrganizationId.ToString(CultureInfo.InvariantCulture));
    }
}

/// <summary>Writes the text exposition format: one # HELP and # TYPE per family, then its samples.</summary>
internal sealed class PrometheusText
{
    private readonly StringBuilder _text = new();

    public void Family(string name, string type, string help) =>
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    public void Sample(string name, double value, params (string Name, string Value)[] labels)
    {
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0) _text.Append(',');
                _text.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            _text.Append('}');
        }
        _text.Append(' ').Append(Number(value)).Append('\n');
    }

    public static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    public override string ToString() => _text.ToString();
}
