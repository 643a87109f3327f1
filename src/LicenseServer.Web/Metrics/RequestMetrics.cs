using System.Collections.Concurrent;
using System.Diagnostics;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// How long this node takes to answer, by route template, method and status class. A request
/// costs a dictionary read and two interlocked adds: series are made once, the first time a route,
/// method and status class are seen, and never locked after.
/// </summary>
public sealed class RequestMetrics
{
    public const string Unmatched = "unmatched";
    public static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"];
    public const int StatusClasses = 5;

    private readonly ConcurrentDictionary<Endpoint, RouteSeries> _byEndpoint = new();
    private readonly ConcurrentDictionary<string, RouteSeries> _byRoute = new(StringComparer.Ordinal);
    private readonly RouteSeries _unmatched = new(Unmatched);

    public void Record(Endpoint? endpoint, string method, int status, long elapsedTicks)
    {
        var series = endpoint is null ? _unmatched : _byEndpoint.GetOrAdd(endpoint, static (e, self) => self.SeriesOf(e), this);
        series.For(MethodIndex(method), Math.Clamp(status / 100, 1, StatusClasses) - 1).Observe(elapsedTicks);
    }

    /// <summary>Every series with observations, in a stable order.</summary>
    public IEnumerable<(string Route, string Method, string Status, Histogram Histogram)> Series() =>
        _byRoute.Values.Append(_unmatched).OrderBy(s => s.Route, StringComparer.Ordinal).SelectMany(s => s.Observed());

    // Endpoints that share a template (a page and its handlers, or the 405 answer's endpoint) share a series.
    private RouteSeries SeriesOf(Endpoint endpoint)
    {
        var route = endpoint is RouteEndpoint { RoutePattern.RawText: { } text } ? "/" + text.TrimStart('/') : Unmatched;
        return route == Unmatched ? _unmatched : _byRoute.GetOrAdd(route, static r => new RouteSeries(r));
    }

    private static int MethodIndex(string method) =>
        HttpMethods.IsGet(method) ? 0 : HttpMethods.IsHead(method) ? 1 : HttpMethods.IsPost(method) ? 2 : HttpMethods.IsPut(method) ? 3
        : HttpMethods.IsDelete(method) ? 4 : HttpMethods.IsPatch(method) ? 5 : HttpMethods.IsOptions(method) ? 6 : 7;

    private sealed class RouteSeries(string route)
    {
        private readonly Histogram?[] _histograms = new Histogram?[Methods.Length * StatusClasses];

        public string Route { get; } = route;

        public Histogram For(int method, int statusClass)
        {
            ref var slot = ref _histograms[method * StatusClasses + statusClass];
            return Volatile.Read(ref slot) ?? Interlocked.CompareExchange(ref slot, new Histogram(), null) ?? slot!;
        }

        public IEnumerable<(string, string, string, Histogram)> Observed()
        {
            for (var i = 0; i < _histograms.Length; i++)
                if (Volatile.Read(ref _histograms[i]) is { } histogram)
                    yield return (Route, Methods[i / StatusClasses], $"{i % StatusClasses + 1}xx", histogram);
        }
    }
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
