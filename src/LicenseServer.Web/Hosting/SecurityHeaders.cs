using System.Globalization;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// The headers every answer carries: console pages, error pages, the stylesheet, the client API and
/// its problems. They are written just before the headers go out, because the error paths
/// (the exception handler, the API's problem responses) clear the response and would drop headers
/// set earlier.
/// </summary>
internal static class SecurityHeaders
{
    /// <summary>The console: its own stylesheet and forms only, no scripts, never framed.</summary>
    public const string ConsolePolicy =
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    /// <summary>JSON and text answers load nothing at all.</summary>
    public const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    public static IApplicationBuilder UseKitSecurityHeaders(this IApplicationBuilder app, KitOptions options)
    {
        var writer = new Writer(options.Https.HstsMaxAgeDays > 0
            ? "max-age=" + ((long)options.Https.HstsMaxAgeDays * 86400).ToString(CultureInfo.InvariantCulture)
            : null);
        // One delegate for the process and the context as its state: nothing allocated per request.
        Func<object, Task> apply = writer.Apply;
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(apply, context);
            return next(context);
        });
    }

    private sealed class Writer(string? hsts)
    {
        public Task Apply(object state)
        {
            Write((HttpContext)state, hsts);
            return Task.CompletedTask;
        }
    }

    private static void Write(HttpContext context, string? hsts)
    {
        var headers = context.Response.Headers;
        var path = context.Request.Path;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "same-origin";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.ContentSecurityPolicy = path.StartsWithSegments("/api") || path.StartsWithSegments("/metrics") ? ApiPolicy : ConsolePolicy;
        // Only over HTTPS (RFC 6797 8.1: a browser ignores it over HTTP), and for this host only: the
        // customer's other hosts on the domain may well be plain HTTP.
        if (hsts is not null && context.Request.IsHttps) headers.StrictTransportSecurity = hsts;
    }
}
