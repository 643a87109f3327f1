using System.Security.Claims;
using LicenseServer.Data.Database;
using LicenseServer.Web.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Primitives;
using Npgsql;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// The one place where a database that is away (<see cref="DatabaseFaults.IsUnavailable"/>) becomes an
/// answer: 503 with Retry-After, as <c>database_unavailable</c> problem+json under /api and as a page of
/// its own in the console, never the generic error page or a 500. A GET or HEAD is safe to repeat and is
/// run again a couple of times first, after a jittered pause, on a cleared pool: right after a database
/// restart the pool still hands out connections whose server is gone, and only the first command on one
/// fails. Writes are answered 503 at once (the client API's idempotent writes retry where they run, in
/// the data layer); the client retries them.
/// </summary>
internal sealed class DatabaseOutage(RequestDelegate next, IServiceScopeFactory scopes, NpgsqlDataSource db, ILogger<DatabaseOutage> logger)
{
    public const string RetryAfterSeconds = "5";
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);
    private long _answered;
    private long _reportedAt; // Environment.TickCount64 of the last report

    public async Task InvokeAsync(HttpContext context)
    {
        KeyValuePair<string, StringValues>[] headers = [.. context.Response.Headers]; // the security headers, set before this
        var attempts = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) ? DatabaseFaults.Attempts : 1;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await next(context);
                return;
            }
            catch (Exception e) when (DatabaseFaults.IsUnavailable(e) && !context.Response.HasStarted)
            {
                if (attempt < attempts)
                {
                    db.Clear();
                    await Task.Delay(DatabaseFaults.Backoff(attempt), context.RequestAborted);
                    Reset(context, headers);
                    continue;
                }
                Report(context, e);
                await WriteAsync(context, headers);
                return;
            }
        }
    }

    /// <summary>
    /// Makes the request as it was when it reached this middleware, to run it again: no endpoint, no
    /// user, a new service scope (the authentication handlers of the failed attempt keep its failure),
    /// and the response's headers as they were. The cookies the failed attempt set are kept: a form's
    /// antiforgery token made by it refers to its cookie, and the next attempt does not set it again.
    /// </summary>
    private void Reset(HttpContext context, KeyValuePair<string, StringValues>[] headers)
    {
        var cookies = context.Response.Headers.SetCookie;
        RestoreHeaders(context, headers);
        if (cookies.Count > 0) context.Response.Headers.SetCookie = cookies;
        context.SetEndpoint(null);
        context.Request.RouteValues.Clear();
        context.Features.Set<IAuthenticateResultFeature>(null);
        context.Features.Set<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>(null);
        context.User = new ClaimsPrincipal(new ClaimsIdentity());
        var scope = scopes.CreateAsyncScope();
        context.Response.RegisterForDisposeAsync(scope);
        context.RequestServices = scope.ServiceProvider;
    }

    private static void RestoreHeaders(HttpContext context, KeyValuePair<string, StringValues>[] headers)
    {
        context.Response.Clear();
        foreach (var (name, value) in headers) context.Response.Headers[name] = value;
    }

    /// <summary>One warning every 10 seconds at most, with how many requests were refused: an outage under load would flood the log.</summary>
    private void Report(HttpContext context, Exception e)
    {
        var answered = Interlocked.Increment(ref _answered);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _reportedAt);
        if (now - last < ReportEvery.TotalMilliseconds || Interlocked.CompareExchange(ref _reportedAt, now, last) != last) return;
        Interlocked.Exchange(ref _answered, 0);
        logger.LogWarning("The database is unavailable: {Count} request(s) answered 503 since the last report, the latest {Method} {Path}: {Error}",
            answered, context.Request.Method, context.Request.Path, e.Message);
    }

    private static async Task WriteAsync(HttpContext context, KeyValuePair<string, StringValues>[] headers)
    {
        RestoreHeaders(context, headers);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = RetryAfterSeconds;
        response.Headers.CacheControl = "no-store";
        var path = context.Request.Path;
        if (path.StartsWithSegments("/api"))
            await ApiProblems.WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "database_unavailable",
                "The license server cannot reach its database right now. Try again in a few seconds.");
        else if (path.StartsWithSegments("/health"))
            await response.WriteAsJsonAsync(new { status = "unavailable", database = "down" });
        else
        {
            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Page(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)));
        }
    }

    /// <summary>A page that needs nothing from the database (the usual layout asks it for banners, and the error page for the user).</summary>
    private static string Page(bool reading) => $$"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
            <meta charset="utf-8" />
            <meta name="viewport" content="width=device-width, initial-scale=1" />
            {{(reading ? "<meta http-equiv=\"refresh\" content=\"10\" />" : "")}}
            <title>Database unavailable · Kit License Server</title>
            <link rel="stylesheet" href="/css/site.css" />
        </head>
        <body>
            <header class="top"><a class="brand" href="/">Kit License Server</a></header>
            <main>
                <h1>The database is not reachable</h1>
                <p class="error" role="alert" data-testid="database-unavailable">The license server cannot reach its database right now, so this page cannot be shown. This usually passes within seconds, for example while the database restarts.</p>
                <p>{{(reading
                    ? "This page reloads itself every 10 seconds."
                    : "Your change may not have been saved. Open the page again in a few seconds and check before you repeat it.")}}</p>
                <p class="muted">If it does not pass, the server administrator should check that PostgreSQL is running and reachable; the server's log names the error.</p>
            </main>
            <footer>Kit License Server {{ServerHost.Version}}</footer>
        </body>
        </html>
        """;
}
