using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Net.Http.Headers;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// A browser's first visit to an activated server without a default account, done by hand so that every
/// Set-Cookie header is seen as sent: Setup (antiforgery cookie), its post (the one-time message's
/// cookie), sign-in (the session cookie), then the dashboard with the cookies sent back.
/// </summary>
public static partial class CookieFlow
{
    public const string Email = "admin@acme.test";
    public const string Password = "correct horse";

    /// <returns>Every cookie the server gave a value, by name (as it was set, not as it was later deleted), and the dashboard's answer with the session cookie.</returns>
    public static async Task<(Dictionary<string, SetCookieHeaderValue> Cookies, HttpResponseMessage Dashboard)> RunAsync(HttpClient http, string setupCode)
    {
        var cookies = new Jar();
        using (var setup = await http.GetAsync("/Setup"))
        {
            Assert.That(setup.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Keep(setup, cookies);
            var token = TokenPattern().Match(await setup.Content.ReadAsStringAsync()).Groups[1].Value;
            using var created = await PostAsync(http, "/Setup", cookies, new() { ["email"] = Email, ["password"] = Password, ["confirmation"] = Password, ["setupCode"] = setupCode, ["__RequestVerificationToken"] = token });
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await created.Content.ReadAsStringAsync());
            Keep(created, cookies);
        }
        using (var signIn = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/Account/SignIn"), cookies))
        {
            Assert.That(await signIn.Content.ReadAsStringAsync(), Does.Contain("The default account is ready"), "the one-time message came back through its cookie");
            Keep(signIn, cookies);
            var token = TokenPattern().Match(await signIn.Content.ReadAsStringAsync()).Groups[1].Value;
            using var signedIn = await PostAsync(http, "/Account/SignIn", cookies, new() { ["email"] = Email, ["password"] = Password, ["__RequestVerificationToken"] = token });
            Assert.That(signedIn.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await signedIn.Content.ReadAsStringAsync());
            Keep(signedIn, cookies);
        }
        var dashboard = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/"), cookies);
        return (cookies.Set, dashboard);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string path, Jar cookies, Dictionary<string, string> form) =>
        SendAsync(http, new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) }, cookies);

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, Jar cookies)
    {
        if (cookies.Current.Count > 0) request.Headers.Add("Cookie", string.Join("; ", cookies.Current.Select(c => $"{c.Key}={c.Value}")));
        return http.SendAsync(request);
    }

    private static void Keep(HttpResponseMessage response, Jar cookies)
    {
        if (!response.Headers.TryGetValues("Set-Cookie", out var values)) return;
        foreach (var cookie in SetCookieHeaderValue.ParseList(values.ToList()))
        {
            var name = cookie.Name.Value!;
            var deleted = cookie.Value.Length == 0 || cookie.Expires < DateTimeOffset.UtcNow;
            if (deleted) { cookies.Current.Remove(name); continue; }
            cookies.Set[name] = cookie;
            cookies.Current[name] = cookie.Value.Value!;
        }
    }

    private sealed class Jar
    {
        public Dictionary<string, SetCookieHeaderValue> Set { get; } = [];
        public Dictionary<string, string> Current { get; } = [];
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
