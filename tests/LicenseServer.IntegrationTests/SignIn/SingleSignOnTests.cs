using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Web;
using Dapper;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.SignIn;

/// <summary>
/// Signing in through a real OpenID provider (oidc-provider from npm): the console's button in Chromium, the checks of
/// state, nonce and verified email, group mappings from the groups claim, and the desktop flow of <c>kit login --sso</c>
/// ending with a bearer token that works.
/// </summary>
public sealed class SingleSignOnTests : ConsoleTest
{
    // The provider knows one redirect URI, so every test's server listens on the same port.
    private static readonly int ServerPort = FreePort.Next();
    private static string ServerUrl => $"http://127.0.0.1:{ServerPort}";
    private static OidcProvider _provider = null!;

    protected override string[] ServerSettings => [$"--Urls={ServerUrl}", $"--Kit:ServerUrl={ServerUrl}"];

    [OneTimeSetUp]
    public void StartProvider() =>
        _provider = OidcProvider.Start("kit-license-server", "provider-secret-1", [$"{ServerUrl}/account/sso/callback"]);

    [OneTimeTearDown]
    public void StopProvider() => _provider.Stop();

    private async Task ConfigureAsync()
    {
        using var response = await Admin.PostFormAsync("/Admin/Directory?handler=Oidc", new Dictionary<string, string>
        {
            ["enabled"] = "true", ["name"] = "Corp SSO", ["issuer"] = _provider.Issuer, ["clientId"] = _provider.ClientId, ["clientSecret"] = _provider.ClientSecret,
            ["scopes"] = "openid email profile", ["emailClaim"] = "email", ["groupsClaim"] = "groups",
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(response));
    }

    /// <summary>A browser (a cookie jar) that starts a sign-in: the provider's authorization request it is sent to.</summary>
    private static async Task<Uri> StartAsync(ConsoleClient browser)
    {
        using var start = await browser.GetAsync("/account/sso/start?returnUrl=%2F");
        Assert.That(start.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        return start.Headers.Location!;
    }

    private static async Task<string> FinishAsync(ConsoleClient browser, Uri callback)
    {
        using var answer = await browser.GetAsync(callback.PathAndQuery);
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        return answer.RedirectPath();
    }

    [Test]
    public async Task A_person_signs_in_to_the_console_with_the_providers_button_in_Chromium()
    {
        await ConfigureAsync();
        var context = await (await SharedBrowser.GetAsync()).NewContextAsync();
        try
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync(Server.BaseUrl + "/Account/SignIn");
            await page.ClickAsync("text=Sign in with Corp SSO");
            await OidcProvider.SignInAsync(page, "alice");
            await page.WaitForURLAsync(Server.BaseUrl + "/");
            Assert.That(await page.Locator("body").InnerTextAsync(), Does.Contain("alice@corp.example"));
        }
        finally
        {
            await context.CloseAsync();
        }
        var audit = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Audit?action=account.signed_in"));
        Assert.That(audit, Does.Contain("alice@corp.example").And.Contain("through Corp SSO (OpenID Connect)"));
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<string>("SELECT l.external_id FROM directory_link l JOIN public.user_account u ON u.id = l.user_id WHERE u.email = 'alice@corp.example'"),
            Does.StartWith(_provider.Issuer + " "), "the subject, with the issuer it is unique at");
    }

    [Test]
    public async Task An_answer_with_a_wrong_state_from_another_browser_or_used_twice_is_refused()
    {
        await ConfigureAsync();
        var browser = NewClient();
        var callback = await _provider.AuthorizeWithHttpAsync(await StartAsync(browser), "alice");
        var query = HttpUtility.ParseQueryString(callback.Query);

        var tampered = new UriBuilder(callback) { Query = $"code={Uri.EscapeDataString(query["code"]!)}&state=not-the-state" }.Uri;
        Assert.That(await FinishAsync(browser, tampered), Is.EqualTo("/Account/SignIn?ssoError=state"));
        // A sign-in's answer finished in another browser than the one that started it is refused, and spends it.
        var again = await _provider.AuthorizeWithHttpAsync(await StartAsync(browser), "alice");
        Assert.That(await FinishAsync(NewClient(), again), Is.EqualTo("/Account/SignIn?ssoError=state"), "another browser");
        var third = await _provider.AuthorizeWithHttpAsync(await StartAsync(browser), "alice");
        Assert.That(await FinishAsync(browser, third), Is.EqualTo("/"), "the right browser signs in");
        Assert.That(await FinishAsync(browser, third), Is.EqualTo("/Account/SignIn?ssoError=state"), "but once");
        var page = await ConsoleClient.TextOf(await NewClient().GetAsync("/Account/SignIn?ssoError=state"));
        Assert.That(page, Does.Contain("could not be matched to one started in this browser"));
    }

    [Test]
    public async Task An_ID_token_for_another_nonce_is_refused()
    {
        await ConfigureAsync();
        var browser = NewClient();
        var request = await StartAsync(browser);
        // Someone on the way swaps the nonce: the provider signs a token for the other nonce, which this sign-in never sent.
        var swapped = new UriBuilder(request) { Query = System.Text.RegularExpressions.Regex.Replace(request.Query.TrimStart('?'), "nonce=[^&]+", "nonce=someone-elses-nonce") }.Uri;
        var callback = await _provider.AuthorizeWithHttpAsync(swapped, "alice");
        Assert.That(await FinishAsync(browser, callback), Is.EqualTo("/Account/SignIn?ssoError=nonce"));
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<long>("SELECT count(*) FROM public.user_account WHERE email = 'alice@corp.example'"), Is.Zero);
    }

    [Test]
    public async Task An_unverified_email_is_refused_and_makes_no_account()
    {
        await ConfigureAsync();
        var browser = NewClient();
        var callback = await _provider.AuthorizeWithHttpAsync(await StartAsync(browser), "bob");
        Assert.That(await FinishAsync(browser, callback), Is.EqualTo("/Account/SignIn?ssoError=unverified_email"));
        Assert.That(await ConsoleClient.TextOf(await browser.GetAsync("/Account/SignIn?ssoError=unverified_email")), Does.Contain("Your email address is not verified by the provider"));
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<long>("SELECT count(*) FROM public.user_account WHERE email = 'bob@corp.example'"), Is.Zero);
    }

    [Test]
    public async Task The_groups_claim_maps_a_person_to_an_organization_and_an_existing_account_is_matched_by_verified_email()
    {
        var carol = await CreateUserAsync("carol@corp.example");
        var organization = await CreateOrganizationAsync(Admin, "Licensing");
        await ConfigureAsync();
        using (var added = await Admin.PostFormAsync("/Admin/Directory?handler=AddMapping", new Dictionary<string, string>
               { ["source"] = "oidc", ["group"] = "license-admins", ["organizationId"] = $"{organization}", ["role"] = "admin" }))
            Assert.That(added.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(added));
        var browser = NewClient();
        Assert.That(await FinishAsync(browser, await _provider.AuthorizeWithHttpAsync(await StartAsync(browser), "carol")), Is.EqualTo("/"));
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<string>("SELECT role FROM organization_member WHERE organization_id = @organization AND user_id = @carol", new { organization, carol }),
            Is.EqualTo("admin"));
    }

    [Test]
    public async Task Kit_login_sso_signs_in_through_the_browser_and_saves_a_working_bearer_token()
    {
        await ConfigureAsync();
        var home = Path.Combine(Path.GetTempPath(), "kit-sso-" + Guid.NewGuid().ToString("N")[..8]);
        var start = new ProcessStartInfo("dotnet", [BuiltTools.Dll("kit"), "login", "--sso", "--no-browser", "--server", Server.BaseUrl])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, Environment = { ["KIT_HOME"] = home },
        };
        using var kit = Process.Start(start)!;
        var error = kit.StandardError.ReadToEndAsync();
        Assert.That(await kit.StandardOutput.ReadLineAsync(), Does.StartWith("Open this address in your browser"));
        var url = await kit.StandardOutput.ReadLineAsync();
        Assert.That(url, Does.StartWith(Server.BaseUrl + "/api/v1/auth/sso/start?redirect_uri=http%3A%2F%2F127.0.0.1%3A"));

        var context = await (await SharedBrowser.GetAsync()).NewContextAsync();
        try
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync(url!);
            await OidcProvider.SignInAsync(page, "alice");
            await page.WaitForURLAsync(u => u.StartsWith("http://127.0.0.1:", StringComparison.Ordinal) && u.Contains("/kit-sso/callback", StringComparison.Ordinal));
            Assert.That(await page.Locator("body").InnerTextAsync(), Does.Contain("You are signed in"));
        }
        finally
        {
            await context.CloseAsync();
        }
        var output = await kit.StandardOutput.ReadToEndAsync();
        await kit.WaitForExitAsync();
        Assert.That(kit.ExitCode, Is.Zero, output + await error);
        Assert.That(output, Does.Contain("Signed in as alice@corp.example."));

        var token = JsonDocument.Parse(File.ReadAllText(Path.Combine(home, "credentials.json"))).RootElement.GetProperty("Token").GetString();
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using var organizations = await http.GetAsync("/api/v1/organizations");
        Assert.That(organizations.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the bearer token works");
        Directory.Delete(home, recursive: true);
    }

    [Test]
    public async Task The_desktop_code_is_given_only_for_the_verifier_and_loopback_address_that_started_it_and_only_once()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(Server.BaseUrl) };
        using (var unset = await http.GetAsync("/api/v1/auth/sso/start?redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb&state=s&code_challenge=" + new string('a', 43) + "&code_challenge_method=S256"))
            Assert.That(await unset.Content.ReadAsStringAsync(), Does.Contain("sso_not_configured"));
        await ConfigureAsync();
        foreach (var redirect in new[] { "http://evil.example:5000/cb", "https://127.0.0.1:5000/cb", "http://127.0.0.1/cb", "http://localhost:5000/cb" })
            using (var refused = await http.GetAsync($"/api/v1/auth/sso/start?redirect_uri={Uri.EscapeDataString(redirect)}&state=s&code_challenge={new string('a', 43)}&code_challenge_method=S256"))
                Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), redirect);

        const string Verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", Redirect = "http://127.0.0.1:51234/cb";
        var challenge = LicenseServer.Web.Accounts.SingleSignOn.Challenge(Verifier);
        var browser = NewClient();
        using (var started = await browser.GetAsync($"/api/v1/auth/sso/start?redirect_uri={Uri.EscapeDataString(Redirect)}&state=client-state&code_challenge={challenge}&code_challenge_method=S256"))
        {
            var callback = await _provider.AuthorizeWithHttpAsync(started.Headers.Location!, "alice");
            var loopback = new Uri((await browser.GetAsync(callback.PathAndQuery)).Headers.Location!.ToString());
            Assert.That(loopback.GetLeftPart(UriPartial.Path), Is.EqualTo(Redirect));
            var query = HttpUtility.ParseQueryString(loopback.Query);
            Assert.That(query["state"], Is.EqualTo("client-state"));
            var code = query["code"]!;

            async Task<HttpResponseMessage> Exchange(string verifier, string redirect) =>
                await http.PostAsJsonAsync("/api/v1/auth/sso/token", new { code, codeVerifier = verifier, redirectUri = redirect });
            using (var wrongVerifier = await Exchange(new string('b', 43), Redirect)) Assert.That(await wrongVerifier.Content.ReadAsStringAsync(), Does.Contain("invalid_grant"));
            // A refused exchange spends the code: whoever tried it first, it never works after.
            using (var right = await Exchange(Verifier, Redirect)) Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        }
        using (var again = await browser.GetAsync($"/api/v1/auth/sso/start?redirect_uri={Uri.EscapeDataString(Redirect)}&state=s2&code_challenge={challenge}&code_challenge_method=S256"))
        {
            var callback = await _provider.AuthorizeWithHttpAsync(again.Headers.Location!, "alice");
            var code = HttpUtility.ParseQueryString(new Uri((await browser.GetAsync(callback.PathAndQuery)).Headers.Location!.ToString()).Query)["code"]!;
            using (var otherAddress = await http.PostAsJsonAsync("/api/v1/auth/sso/token", new { code, codeVerifier = Verifier, redirectUri = "http://127.0.0.1:9999/cb" }))
                Assert.That(otherAddress.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        }
        using (var third = await browser.GetAsync($"/api/v1/auth/sso/start?redirect_uri={Uri.EscapeDataString(Redirect)}&state=s3&code_challenge={challenge}&code_challenge_method=S256"))
        {
            var callback = await _provider.AuthorizeWithHttpAsync(third.Headers.Location!, "alice");
            var code = HttpUtility.ParseQueryString(new Uri((await browser.GetAsync(callback.PathAndQuery)).Headers.Location!.ToString()).Query)["code"]!;
            using var ok = await http.PostAsJsonAsync("/api/v1/auth/sso/token", new { code, codeVerifier = Verifier, redirectUri = Redirect });
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK), await ok.Content.ReadAsStringAsync());
            Assert.That((await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("email").GetString(), Is.EqualTo("alice@corp.example"));
            using var replay = await http.PostAsJsonAsync("/api/v1/auth/sso/token", new { code, codeVerifier = Verifier, redirectUri = Redirect });
            Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "a code is used once");
        }
    }
}
