using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>A browser-like HTTP client for the console: cookies, no automatic redirects, antiforgery tokens read from forms.</summary>
public sealed partial class ConsoleClient : IDisposable
{
    private readonly HttpClient _http;

    /// <param name="from">The loopback address to connect from (127.0.0.0/8 is all this machine's), so that the server sees another client address.</param>
    public ConsoleClient(string baseUrl, IPAddress? from = null)
    {
        Cookies = new CookieContainer();
        var handler = new SocketsHttpHandler { CookieContainer = Cookies, AllowAutoRedirect = false };
        if (from is not null) handler.ConnectCallback = (context, cancel) => ConnectFromAsync(from, context.DnsEndPoint, cancel);
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl) };
    }

    private static async ValueTask<Stream> ConnectFromAsync(IPAddress from, DnsEndPoint to, CancellationToken cancel)
    {
        var socket = new System.Net.Sockets.Socket(from.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(to, cancel);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public CookieContainer Cookies { get; }

    /// <summary>The client itself, for requests of a test's own making (with this client's cookies).</summary>
    public HttpClient Http => _http;

    public Task<HttpResponseMessage> GetAsync(string path) => _http.GetAsync(path);

    public async Task<string> GetTextAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return await response.Content.ReadAsStringAsync();
    }

    public async Task<string> TokenAsync(string path)
    {
        var html = await GetTextAsync(path);
        var match = TokenPattern().Match(html);
        Assert.That(match.Success, $"no antiforgery token on {path}: {html[Math.Max(0, html.IndexOf("<main", StringComparison.Ordinal))..][..Math.Min(600, html.Length - Math.Max(0, html.IndexOf("<main", StringComparison.Ordinal)))]}");
        return match.Groups[1].Value;
    }

    /// <summary>Posts a form with the antiforgery token read from <paramref name="tokenPage"/> (default: the same path).</summary>
    public async Task<HttpResponseMessage> PostFormAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, bool withToken = true, string? tokenPage = null)
    {
        var all = new List<KeyValuePair<string, string>>(fields);
        if (withToken) all.Add(new("__RequestVerificationToken", await TokenAsync(tokenPage ?? path)));
        return await _http.PostAsync(path, new FormUrlEncodedContent(all));
    }

    public async Task<HttpResponseMessage> UploadLicenseAsync(byte[] file, string fileName = "license.lic")
    {
        var token = await TokenAsync("/Activate");
        var content = new MultipartFormDataContent
        {
            { new StringContent(token), "__RequestVerificationToken" },
        };
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(part, "licenseFile", fileName);
        return await _http.PostAsync("/Activate", content);
    }

    public Task<HttpResponseMessage> PostRawAsync(string path, HttpContent content) => _http.PostAsync(path, content);

    public async Task<HttpResponseMessage> SignInAsync(string email, string password) =>
        await PostFormAsync("/Account/SignIn", new Dictionary<string, string> { ["email"] = email, ["password"] = password });

    public static async Task<string> TextOf(HttpResponseMessage response) => WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}

public static class ResponseExtensions
{
    /// <summary>Where a redirect leads, as a path with its query, whether the server wrote it absolute or relative.</summary>
    public static string RedirectPath(this HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new AssertionException($"expected a redirect, got {(int)response.StatusCode}");
        return location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;
    }
}
