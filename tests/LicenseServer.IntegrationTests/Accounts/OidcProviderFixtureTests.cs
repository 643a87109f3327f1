using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LicenseServer.IntegrationTests.Support;
using Microsoft.AspNetCore.WebUtilities;

namespace LicenseServer.IntegrationTests.Accounts;

/// <summary>The OpenID provider the sign-in tests use (<see cref="OidcProvider"/>) does what a real one does: discovery, PKCE, ID token claims.</summary>
public sealed class OidcProviderFixtureTests
{
    private const string ClientId = "kit-license-server";
    private const string ClientSecret = "a client secret";
    private OidcProvider _provider = null!;
    private readonly string _redirectUri = $"http://127.0.0.1:{FreePort.Next()}/signin-oidc";
    private readonly HttpClient _http = new();

    // What the provider does in a browser, SingleSignOnTests see in Chromium against the server itself.
    [OneTimeSetUp]
    public void StartProvider() => _provider = OidcProvider.Start(ClientId, ClientSecret, [_redirectUri]);

    [OneTimeTearDown]
    public void StopProvider()
    {
        _provider.Stop();
        _http.Dispose();
    }

    [Test]
    public async Task Discovery_names_the_issuer_and_S256()
    {
        var discovery = await _http.GetFromJsonAsync<JsonElement>(_provider.Issuer + "/.well-known/openid-configuration");
        Assert.That(discovery.GetProperty("issuer").GetString(), Is.EqualTo(_provider.Issuer).And.Match(@"^http://127\.0\.0\.1:\d+$"));
        Assert.That(discovery.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(m => m.GetString()), Does.Contain("S256"));
        Assert.That(discovery.GetProperty("token_endpoint").GetString(), Is.EqualTo(_provider.Issuer + "/token"));
    }

    [Test]
    public async Task Alice_signs_in_and_her_ID_token_holds_email_verified_groups_and_the_nonce()
    {
        var pkce = Pkce.New();
        var callback = await _provider.AuthorizeWithHttpAsync(AuthorizationUrl(pkce, "state-1", "nonce-1"), "alice");
        var query = QueryHelpers.ParseQuery(callback.Query);
        Assert.That(callback.GetLeftPart(UriPartial.Path), Is.EqualTo(_redirectUri));
        Assert.That((string?)query["state"], Is.EqualTo("state-1"));
        Assert.That((string?)query["iss"], Is.EqualTo(_provider.Issuer), "RFC 9207: the provider names itself");

        using var tokens = await ExchangeAsync((string)query["code"]!, pkce.Verifier);
        var body = await tokens.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(tokens.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        var idToken = Payload(body.GetProperty("id_token").GetString()!);
        Assert.Multiple(() =>
        {
            Assert.That(idToken.GetProperty("iss").GetString(), Is.EqualTo(_provider.Issuer));
            Assert.That(idToken.GetProperty("aud").GetString(), Is.EqualTo(ClientId));
            Assert.That(idToken.GetProperty("sub").GetString(), Is.EqualTo("alice"));
            Assert.That(idToken.GetProperty("nonce").GetString(), Is.EqualTo("nonce-1"));
            Assert.That(idToken.GetProperty("email").GetString(), Is.EqualTo("alice@corp.example"));
            Assert.That(idToken.GetProperty("email_verified").GetBoolean(), Is.True);
            Assert.That(idToken.GetProperty("name").GetString(), Is.EqualTo("Alice Example"));
            Assert.That(idToken.GetProperty("groups").EnumerateArray().Select(g => g.GetString()), Is.EqualTo(new[] { "engineering" }));
        });
    }

    [Test]
    public async Task Bob_s_email_is_not_verified()
    {
        var pkce = Pkce.New();
        var callback = await _provider.AuthorizeWithHttpAsync(AuthorizationUrl(pkce, "s", "n"), "bob");
        using var tokens = await ExchangeAsync((string)QueryHelpers.ParseQuery(callback.Query)["code"]!, pkce.Verifier);
        var idToken = Payload((await tokens.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id_token").GetString()!);
        Assert.That(idToken.GetProperty("email").GetString(), Is.EqualTo("bob@corp.example"));
        Assert.That(idToken.GetProperty("email_verified").GetBoolean(), Is.False);
    }

    [Test]
    public async Task A_wrong_code_verifier_or_no_PKCE_at_all_is_refused()
    {
        var pkce = Pkce.New();
        var callback = await _provider.AuthorizeWithHttpAsync(AuthorizationUrl(pkce, "s", "n"), "carol");
        using var refused = await ExchangeAsync((string)QueryHelpers.ParseQuery(callback.Query)["code"]!, Pkce.New().Verifier);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), Is.EqualTo("invalid_grant"));

        var withoutPkce = new Uri(AuthorizationUrl(pkce, "s", "n").ToString().Split("&code_challenge=")[0]);
        var error = await _provider.AuthorizeWithHttpAsync(withoutPkce, "carol");
        Assert.That((string?)QueryHelpers.ParseQuery(error.Query)["error"], Is.EqualTo("invalid_request"), error.ToString());
    }

    [Test]
    public async Task The_token_endpoint_also_takes_the_secret_in_a_Basic_Authorization_header()
    {
        var pkce = Pkce.New();
        var callback = await _provider.AuthorizeWithHttpAsync(AuthorizationUrl(pkce, "s", "n"), "carol");
        using var request = new HttpRequestMessage(HttpMethod.Post, _provider.Issuer + "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = (string)QueryHelpers.ParseQuery(callback.Query)["code"]!,
                ["redirect_uri"] = _redirectUri, ["code_verifier"] = pkce.Verifier,
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(
            Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(ClientId)}:{Uri.EscapeDataString(ClientSecret)}")));
        using var tokens = await _http.SendAsync(request);
        var body = await tokens.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(tokens.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(Payload(body.GetProperty("id_token").GetString()!).GetProperty("groups")[0].GetString(), Is.EqualTo("license-admins"));
    }

    private Uri AuthorizationUrl(Pkce pkce, string state, string nonce) => new(QueryHelpers.AddQueryString(_provider.Issuer + "/auth",
        new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = ClientId, ["redirect_uri"] = _redirectUri, ["scope"] = "openid email profile",
            ["state"] = state, ["nonce"] = nonce, ["code_challenge"] = pkce.Challenge, ["code_challenge_method"] = "S256",
        }));

    /// <summary>The code exchanged at the token endpoint, the secret in the form (client_secret_post).</summary>
    private Task<HttpResponseMessage> ExchangeAsync(string code, string verifier) =>
        _http.PostAsync(_provider.Issuer + "/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = _redirectUri, ["code_verifier"] = verifier,
            ["client_id"] = ClientId, ["client_secret"] = ClientSecret,
        }));

    private static JsonElement Payload(string jwt) => JsonDocument.Parse(Base64Url.Decode(jwt.Split('.')[1])).RootElement;

    private sealed record Pkce(string Verifier, string Challenge)
    {
        public static Pkce New()
        {
            var verifier = Base64Url.Encode(RandomNumberGenerator.GetBytes(32));
            return new Pkce(verifier, Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
        }
    }

    private static class Base64Url
    {
        public static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        public static byte[] Decode(string text) => Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight((text.Length + 3) / 4 * 4, '='));
    }
}
