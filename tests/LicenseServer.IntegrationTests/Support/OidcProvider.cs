using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// A real OpenID Connect provider: oidc-provider from npm (tests/prerequisites.sh installs it into tests/.tools), run by
/// Support/oidc-provider.mjs on a free loopback port, issuer <c>http://127.0.0.1:port</c>. One confidential client
/// (authorization code, PKCE S256 required; the token endpoint takes the secret as client_secret_post or
/// client_secret_basic alike) and three people:
/// alice (verified, groups engineering), bob (email not verified) and carol (verified, groups license-admins). Email,
/// email_verified, name and groups are in the ID token itself. Its login page takes any password, then asks for consent;
/// any other login ends on a provider error page. It keeps the real time (ID tokens are issued and expire by the wall clock).
/// </summary>
public sealed partial class OidcProvider
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private OidcProvider(Process process, string issuer, string clientId, string clientSecret)
    {
        _process = process;
        Issuer = issuer;
        ClientId = clientId;
        ClientSecret = clientSecret;
    }

    /// <summary><c>http://127.0.0.1:port</c>, no trailing slash; discovery is at <c>{Issuer}/.well-known/openid-configuration</c>.</summary>
    public string Issuer { get; }
    public string ClientId { get; }
    public string ClientSecret { get; }

    public static OidcProvider Start(string clientId, string clientSecret, IEnumerable<string> redirectUris)
    {
        var tools = Environment.GetEnvironmentVariable("KIT_TOOLS") ?? RepoPaths.File("tests/.tools");
        Assert.That(File.Exists(Path.Combine(tools, "node_modules/oidc-provider/package.json")),
            $"oidc-provider is not installed in {tools}: run bash tests/prerequisites.sh.");
        var port = FreePort.Next();
        var config = JsonSerializer.Serialize(new { port, clientId, clientSecret, redirectUris = redirectUris.ToArray() });
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("KIT_NODE") ?? "node",
            [RepoPaths.File("tests/LicenseServer.IntegrationTests/Support/oidc-provider.mjs"), config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["KIT_TOOLS"] = tools },
        };
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(start)!;
        var provider = new OidcProvider(process, $"http://127.0.0.1:{port}", clientId, clientSecret);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("listening", StringComparison.Ordinal) == true) listening.TrySetResult();
            provider.Log(e.Data);
        };
        process.ErrorDataReceived += (_, e) => provider.Log(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("the OpenID provider exited"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            listening.Task.Wait(TimeSpan.FromSeconds(15));
            if (listening.Task.IsCompletedSuccessfully) return provider;
        }
        catch (AggregateException) { }
        provider.Stop();
        throw new InvalidOperationException($"the OpenID provider did not start (15 s):\n{provider.Output}");
    }

    /// <summary>What the provider printed (its warnings, server errors).</summary>
    public string Output
    {
        get { lock (_log) return _log.ToString(); }
    }

    private void Log(string? line)
    {
        if (line is not null) lock (_log) _log.AppendLine(line);
    }

    public void Stop()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { } // exited already
        _process.Dispose();
    }

    /// <summary>
    /// In a browser on (or on its way to) the provider's login page, after the relying party sent it there: signs in as
    /// <paramref name="login"/> with any password and confirms the consent page, so that the browser ends on the
    /// relying party's redirect URI (loaded). A browser context already signed in at the provider is not shown the
    /// login page again: use a fresh context for each sign-in.
    /// </summary>
    public static async Task SignInAsync(IPage page, string login)
    {
        var loginField = page.Locator("form input[name=login]");
        await loginField.WaitForAsync();
        var loginPage = page.Url;
        var origin = new Uri(loginPage).GetLeftPart(UriPartial.Authority);
        await loginField.FillAsync(login);
        await page.Locator("form input[name=password]").FillAsync("any password");
        await page.Locator("form button[type=submit]").ClickAsync(); // "Sign-in"
        await page.WaitForURLAsync(url => url != loginPage);
        var consent = page.Locator("form:has(input[name=prompt][value=consent]) button[type=submit]"); // "Continue"
        if (IsOn(page.Url, origin) && await consent.CountAsync() > 0)
        {
            await consent.ClickAsync();
            await page.WaitForURLAsync(url => !IsOn(url, origin));
        }
        if (IsOn(page.Url, origin))
            throw new AssertionException($"the provider kept the browser on {page.Url}: {await page.Locator("body").InnerTextAsync()}");
    }

    private static bool IsOn(string url, string origin) => url.StartsWith(origin + "/", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// What <see cref="SignInAsync"/> does, without a browser: opens <paramref name="authorizationRequest"/> (the
    /// provider's /auth with the relying party's parameters), signs in as <paramref name="login"/>, consents, and
    /// returns where the provider sends the browser back to (the redirect URI with code, state and iss, or with an error).
    /// Redirects are followed only on the provider's own host; cookies are its own.
    /// </summary>
    public async Task<Uri> AuthorizeWithHttpAsync(Uri authorizationRequest, string login)
    {
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false });
        var issuer = new Uri(Issuer);
        var next = new HttpRequestMessage(HttpMethod.Get, authorizationRequest);
        for (var step = 0; step < 20; step++)
        {
            using var response = await http.SendAsync(next);
            var url = response.RequestMessage!.RequestUri!;
            if (response.Headers.Location is { } location)
            {
                var target = new Uri(url, location);
                if (target.Authority != issuer.Authority) return target;
                next = new HttpRequestMessage(HttpMethod.Get, target);
                continue;
            }
            // A page of the provider's: the login form (prompt=login) or the consent form (prompt=consent).
            var html = await response.Content.ReadAsStringAsync();
            var prompt = PromptField().Match(html);
            var action = FormAction().Match(html);
            if (!response.IsSuccessStatusCode || !prompt.Success || !action.Success)
                throw new InvalidOperationException($"the provider answered {(int)response.StatusCode} at {url}: {html}");
            var form = new Dictionary<string, string> { ["prompt"] = prompt.Groups[1].Value };
            if (form["prompt"] == "login")
            {
                form["login"] = login;
                form["password"] = "any password";
            }
            next = new HttpRequestMessage(HttpMethod.Post, new Uri(url, WebUtility.HtmlDecode(action.Groups[1].Value)))
            {
                Content = new FormUrlEncodedContent(form),
            };
        }
        throw new InvalidOperationException("the provider never sent the browser back to the relying party");
    }

    [GeneratedRegex(@"<form[^>]*\baction=""([^""]+)""[^>]*method=""post""")]
    private static partial Regex FormAction();

    [GeneratedRegex(@"<input type=""hidden"" name=""prompt"" value=""(\w+)""")]
    private static partial Regex PromptField();
}
