using System.Collections.Concurrent;
using System.Diagnostics;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// The label of each endpoint in the request latency histogram: its route template, so that the series stay few
/// (one per page or API route, not one per organization or session id). Endpoints that share a template (a page
/// and its handlers, or the 405 answer's endpoint) share a series.
/// </summary>
public sealed class RequestMetrics(KitMetrics metrics)
{
    public const string Unmatched = "unmatched";
    private static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

    private readonly ConcurrentDictionary<Endpoint, string> _routes = new();

    public void Record(Endpoint? endpoint, string method, int status, long elapsedTicks) =>
        metrics.RequestAnswered(endpoint is null ? Unmatched : _routes.GetOrAdd(endpoint, RouteOf), MethodOf(method), status,
            (double)elapsedTicks / Stopwatch.Frequency);

    private static string RouteOf(Endpoint endpoint) =>
        endpoint is RouteEndpoint { RoutePattern.RawText: { } text } ? "/" + text.TrimStart('/') : Unmatched;

    // A method the server does not serve is "other": what a client sends cannot make series.
    private static string MethodOf(string method) => Array.Find(Methods, m => string.Equals(m, method, StringComparison.OrdinalIgnoreCase)) ?? "other";
}

/// <summary>
/// Times each request from the outermost point of the pipeline, so the error pages' own work counts
/// too. The route is the one the request matched the first time through routing (kept by
/// <see cref="RequestRoute"/>), not the /Error page a 404 or an exception is re-executed into.
/// </summary>
internal sealed class RequestTiming(RequestDelegate next, RequestMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        catch
        {
            // Kestrel answers 500 to what escapes here.
            metrics.Record(RequestRoute.Of(context), context.Request.Method, StatusCodes.Status500InternalServerError, Stopwatch.GetTimestamp() - start);
            throw;
        }
        metrics.Record(RequestRoute.Of(context), context.Request.Method, context.Response.StatusCode, Stopwatch.GetTimestamp() - start);
    }
}

/// <summary>Keeps the endpoint a request first matched, for <see cref="RequestTiming"/>; placed right after routing.</summary>
internal static class RequestRoute
{
    // The key of a feature slot of our own; the value is the endpoint itself, or this for "matched nothing".
    private static readonly object NoEndpoint = new();

    public static IApplicationBuilder UseKitRequestRoute(this IApplicationBuilder app) => app.Use(static (context, next) =>
    {
        // A re-executed request (an error page) keeps what the first pass matched.
        if (context.Features[typeof(RequestRoute)] is null) context.Features[typeof(RequestRoute)] = context.GetEndpoint() ?? NoEndpoint;
        return next(context);
    });

    public static Endpoint? Of(HttpContext context) => context.Features[typeof(RequestRoute)] as Endpoint;
}
