using System.Net;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;

namespace LicenseServer.IntegrationTests.Hosting;

/// <summary>Every kind of answer, over real HTTP, carries the security headers; cookies over plain HTTP are HttpOnly but not Secure.</summary>
public class SecurityHeaderTests : ConsoleTest
{
    private const string ConsolePolicy =
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    private const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    private static void AssertHeaders(HttpResponseMessage response, string policy, string what)
    {
        string Header(string name) =>
            response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
                ? string.Join(",", values)
                : "(missing)";
        Assert.Multiple(() =>
        {
            Assert.That(Header("Content-Security-Policy"), Is.EqualTo(policy), what);
            Assert.That(Header("X-Content-Type-Options"), Is.EqualTo("nosniff"), what);
            Assert.That(Header("X-Frame-Options"), Is.EqualTo("DENY"), what);
            Assert.That(Header("Referrer-Policy"), Is.EqualTo("same-origin"), what);
            Assert.That(Header("Cross-Origin-Opener-Policy"), Is.EqualTo("same-origin"), what);
            Assert.That(Header("Strict-Transport-Security"), Is.EqualTo("(missing)"), what + ": no HSTS over plain HTTP");
        });
    }

    [Test]
    public async Task Console_pages_error_pages_the_stylesheet_and_redirects_carry_the_console_policy()
    {
        var anonymous = NewClient();
        var cases = new (ConsoleClient Client, string Path, HttpStatusCode Status, string What)[]
        {
            (Admin, "/", HttpStatusCode.OK, "the dashboard, signed in"),
            (anonymous, "/Account/SignIn", HttpStatusCode.OK, "the sign-in page"),
            (anonymous, "/", HttpStatusCode.Redirect, "the redirect to sign-in"),
            (Admin, "/no-such-page", HttpStatusCode.NotFound, "the 404 page"),
            (Admin, "/Organizations/987654/Users", HttpStatusCode.NotFound, "another organization's page (404 from the access filter)"),
            (Admin, "/css/site.css", HttpStatusCode.OK, "the stylesheet"),
        };
        foreach (var (client, path, status, what) in cases)
        {
            using var response = await client.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(status), what);
            AssertHeaders(response, ConsolePolicy, what);
        }
        // The error page of a refused form post (no antiforgery token) is re-executed after the response was cleared.
        using var forged = await anonymous.PostFormAsync("/Account/SignIn", new Dictionary<string, string> { ["email"] = AdminEmail, ["password"] = Password }, withToken: false);
        Assert.That(forged.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        AssertHeaders(forged, ConsolePolicy, "the 400 page of a post without its token");
    }

    [Test]
    public async Task The_client_API_and_its_problem_answers_carry_the_API_policy()
    {
        var client = NewClient();
        var cases = new (HttpMethod Method, string Path, HttpStatusCode Status, string What)[]
        {
            (HttpMethod.Get, "/api/v1/server", HttpStatusCode.OK, "an API answer"),
            (HttpMethod.Get, "/api/v1/organizations", HttpStatusCode.Unauthorized, "a problem: no bearer token"),
            (HttpMethod.Get, "/api/v1/no-such-thing", HttpStatusCode.NotFound, "a problem: no such API"),
            (HttpMethod.Post, "/api/v1/sessions", HttpStatusCode.Unauthorized, "a problem: no API key"),
            (HttpMethod.Get, "/metrics", HttpStatusCode.OK, "the metrics"),
        };
        foreach (var (method, path, status, what) in cases)
        {
            using var response = await client.PostRawOrGetAsync(method, path);
            Assert.That(response.StatusCode, Is.EqualTo(status), what);
            AssertHeaders(response, ApiPolicy, what);
        }
    }

    [Test]
    public async Task Signed_in_pages_are_not_kept_in_the_browser_cache()
    {
        using var dashboard = await Admin.GetAsync("/");
        Assert.That(dashboard.Headers.CacheControl?.NoStore, Is.True, "a page with account data is not stored by the browser or a proxy");
    }
}

/// <summary>Over plain HTTP (the intranet deviation): cookies are HttpOnly, never Secure, not __Host- prefixed, and still work.</summary>
public class PlainHttpCookieTests
{
    [Test]
    public async Task Over_plain_HTTP_every_cookie_is_HttpOnly_and_not_Secure_and_signing_in_works()
    {
        await using var server = await TestServer.StartAsync();
        await server.Service<ActivationService>().ActivateAsync(await server.LicenseAsync());
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri(server.BaseUrl) };

        var (cookies, dashboard) = await CookieFlow.RunAsync(http, server.SetupCode());
        using (dashboard) Assert.That(dashboard.StatusCode, Is.EqualTo(HttpStatusCode.OK), "signed in with the cookies over plain HTTP");
        Assert.That(cookies.Keys, Is.EquivalentTo(new[] { "kit.af", "kit.msg", "kit.session" }));
        foreach (var (name, cookie) in cookies)
        {
            Assert.That(cookie.HttpOnly, name + " is HttpOnly");
            Assert.That(cookie.Secure, Is.False, name + " is not Secure over plain http");
        }
    }
}

internal static class ConsoleClientRequests
{
    public static Task<HttpResponseMessage> PostRawOrGetAsync(this ConsoleClient client, HttpMethod method, string path) =>
        method == HttpMethod.Get ? client.GetAsync(path) : client.PostRawAsync(path, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
}
