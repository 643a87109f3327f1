using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Admin;
using LicenseServer.Web.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace LicenseServer.Web.Accounts;

/// <summary>Why a sign-in through the provider was refused: a stable code (in the sign-in page's address) and its sentence.</summary>
public sealed class SsoException(string code) : Exception(SingleSignOn.Sentence(code))
{
    public string Code { get; } = code;
    /// <summary>The sign-in it ends, once known: a desktop sign-in's refusal goes back to the client's address.</summary>
    public SsoRequestRow? Request { get; init; }
}

/// <summary>What the client's loopback address is sent when the desktop sign-in ends.</summary>
public sealed record DesktopRequest(string RedirectUri, string State, string Challenge);

/// <summary>
/// Sign-in through an OpenID Connect provider: the authorization code flow with PKCE (S256), a state bound to the
/// browser that started it (a cookie whose hash the request row holds), a nonce the ID token must carry back, the ID
/// token's signature, issuer, audience and lifetime checked against the provider's discovery document, and only a
/// verified email accepted to match an account.
/// </summary>
public sealed class SingleSignOn(SsoRequestRepository requests, DirectorySettingsService settings, DirectorySignInService signIn, KitOptions options,
    IHttpClientFactory http, ILogger<SingleSignOn> logger)
{
    public const string CallbackPath = "/account/sso/callback";
    /// <summary>The cookie that binds a sign-in to the browser that started it; __Host- prefixed (so no other host sets it) over HTTPS.</summary>
    public string BrowserCookie => options.ServerUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "__Host-kit.sso" : "kit.sso";
    public static readonly TimeSpan RequestLifetime = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan CodeLifetime = TimeSpan.FromMinutes(2);
    private static readonly ConcurrentDictionary<string, ConfigurationManager<OpenIdConnectConfiguration>> Discovery = new();

    public static string Sentence(string code) => code switch
    {
        "state" => "This sign-in could not be matched to one started in this browser: it expired, was used already or was altered. Start again.",
        "nonce" => "The provider's answer does not belong to this sign-in (its nonce does not match), so it was refused. Start again.",
        "unverified_email" => "Your email address is not verified by the provider, so this server cannot tell whose account it is. Verify it with the provider, then try again.",
        "no_email" => "The provider did not send your email address, which this server needs to know you. Ask your administrator to check the provider's settings.",
        "provider" => "The provider did not sign you in: it refused, or the sign-in was cancelled.",
        "disabled" => "Your account on this server is disabled: ask a server admin.",
        "server_admin" => "This email belongs to a server admin, who signs in with their password of this server.",
        "conflict" => "Another account of the provider already signs in to the account of this email: ask a server admin.",
        "not_configured" => "Sign-in with a provider is not set up on this server: sign in with your email and password.",
        _ => "The sign-in through the provider failed: this server could not confirm the provider's answer. Try again, or ask your administrator to look at the server's log.",
    };

    /// <summary>The address of the provider's sign-in page for a new sign-in in this browser; the row and cookie that bind it.</summary>
    public async Task<string> StartAsync(HttpContext context, string? returnUrl, DesktopRequest? desktop)
    {
        var oidc = (await settings.GetAsync()).Oidc ?? throw new SsoException("not_configured");
        var configuration = await DiscoverAsync(oidc);
        // A new value for each sign-in: a value planted in the browser beforehand never binds one.
        var browser = Random();
        context.Response.Cookies.Append(BrowserCookie, browser, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Lax, Path = "/", MaxAge = RequestLifetime,
            Secure = options.ServerUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase),
        });
        string state = Random(), nonce = Random(), verifier = Random();
        await requests.StartAsync(Hash(state), new SsoRequestRow(Hash(browser), nonce, verifier, returnUrl, desktop?.RedirectUri, desktop?.State, desktop?.Challenge),
            RequestLifetime);
        return configuration.AuthorizationEndpoint + (configuration.AuthorizationEndpoint.Contains('?') ? "&" : "?") + Query(new()
        {
            ["response_type"] = "code", ["client_id"] = oidc.ClientId, ["redirect_uri"] = RedirectUri, ["scope"] = oidc.Scopes,
            ["state"] = state, ["nonce"] = nonce, ["code_challenge"] = Challenge(verifier), ["code_challenge_method"] = "S256",
        });
    }

    /// <summary>The provider's answer: the person's account and the sign-in it finishes; throws <see cref="SsoException"/> when refused.</summary>
    public async Task<(UserAccountRow Account, SsoRequestRow Request)> FinishAsync(HttpContext context, string? code, string? state, string? error)
    {
        var request = string.IsNullOrEmpty(state) ? null : await requests.TakeAsync(Hash(state));
        var browser = context.Request.Cookies[BrowserCookie];
        if (request is null || browser is null || !CryptographicOperations.FixedTimeEquals(Hash(browser), request.BrowserHash)) throw new SsoException("state");
        if (!string.IsNullOrEmpty(error) || string.IsNullOrEmpty(code)) throw new SsoException("provider") { Request = request };
        try
        {
            var oidc = (await settings.GetAsync()).Oidc ?? throw new SsoException("not_configured");
            var configuration = await DiscoverAsync(oidc);
            var idToken = await RedeemAsync(configuration, oidc, code, request.CodeVerifier);
            var validation = await ValidateAsync(idToken, oidc, configuration);
            if (validation.Exception is SecurityTokenSignatureKeyNotFoundException)
            {
                // The provider signs with a new key: read its keys again, once.
                Discovery[oidc.Issuer].RequestRefresh();
                validation = await ValidateAsync(idToken, oidc, await DiscoverAsync(oidc));
            }
            if (!validation.IsValid)
            {
                logger.LogWarning(validation.Exception, "The provider's ID token was refused");
                throw new SsoException("failed");
            }
            var token = (JsonWebToken)validation.SecurityToken;
            if (!token.TryGetPayloadValue<string>("nonce", out var nonce) || nonce != request.Nonce) throw new SsoException("nonce");
            if (!token.TryGetPayloadValue<string>(oidc.EmailClaim, out var email) || string.IsNullOrWhiteSpace(email) || !AccountService.IsEmail(email.Trim().ToLowerInvariant()))
                throw new SsoException("no_email");
            if (!Verified(token, email)) throw new SsoException("unverified_email");
            // The subject is unique at its issuer only.
            var identity = new DirectoryIdentity("oidc", $"{oidc.Issuer} {token.Subject}", email.Trim(), token.TryGetPayloadValue<string>("name", out var name) ? name : null);
            var (account, outcome) = await signIn.SignInAsync(identity, DirectorySignInService.ViaOidc(oidc.Name), Groups(token, oidc.GroupsClaim));
            return account is not null ? (account, request) : throw new SsoException(outcome switch
            {
                DirectorySignIn.ServerAdmin => "server_admin",
                DirectorySignIn.Conflict => "conflict",
                _ => "disabled",
            });
        }
        catch (SsoException e) when (e.Request is null)
        {
            throw new SsoException(e.Code) { Request = request };
        }
    }

    /// <summary>A desktop sign-in's one-time code for the person, kept as its hash.</summary>
    public async Task<string> IssueDesktopCodeAsync(long userId, SsoRequestRow request)
    {
        var code = Random();
        await requests.IssueCodeAsync(Hash(code), userId, request.ClientRedirect!, request.ClientChallenge!, CodeLifetime);
        return code;
    }

    /// <summary>The person a desktop sign-in's code names, once, when the client proves it started the sign-in (PKCE) from the same address.</summary>
    public async Task<long?> RedeemDesktopCodeAsync(string code, string verifier, string redirectUri)
    {
        if (code.Length is 0 or > 100 || verifier.Length is < 43 or > 128) return null;
        var taken = await requests.TakeCodeAsync(Hash(code));
        if (taken is not var (userId, clientRedirect, challenge)) return null;
        var matches = clientRedirect == redirectUri && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Challenge(verifier)), Encoding.ASCII.GetBytes(challenge));
        return matches ? userId : null;
    }

    public string RedirectUri => options.ServerUrl.TrimEnd('/') + CallbackPath;

    private async Task<string> RedeemAsync(OpenIdConnectConfiguration configuration, OidcConfig oidc, string code, string verifier)
    {
        using var body = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier,
        });
        using var message = new HttpRequestMessage(HttpMethod.Post, configuration.TokenEndpoint) { Content = body };
        // client_secret_basic (RFC 6749 2.3.1): id and secret form-encoded, then joined and base64.
        message.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
            Uri.EscapeDataString(oidc.ClientId) + ":" + Uri.EscapeDataString(oidc.ClientSecret))));
        using var response = await http.CreateClient(nameof(SingleSignOn)).SendAsync(message);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            logger.LogWarning("The provider's token endpoint refused the code: {Status} {Answer}", (int)response.StatusCode, text.Length > 500 ? text[..500] : text);
            throw new SsoException("failed");
        }
        using var json = JsonDocument.Parse(text);
        return json.RootElement.TryGetProperty("id_token", out var idToken) && idToken.GetString() is { Length: > 0 } value ? value : throw new SsoException("failed");
    }

    private async Task<OpenIdConnectConfiguration> DiscoverAsync(OidcConfig oidc)
    {
        var manager = Discovery.GetOrAdd(oidc.Issuer, issuer => new ConfigurationManager<OpenIdConnectConfiguration>(
            issuer.TrimEnd('/') + "/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(http.CreateClient(nameof(SingleSignOn))) { RequireHttps = new Uri(issuer).Scheme == Uri.UriSchemeHttps || !new Uri(issuer).IsLoopback }));
        try
        {
            var configuration = await manager.GetConfigurationAsync(CancellationToken.None);
            // A discovery document naming another issuer is not this provider's.
            if (configuration.Issuer != oidc.Issuer) throw new SsoException("failed");
            return configuration;
        }
        catch (Exception e) when (e is not SsoException)
        {
            logger.LogWarning(e, "The provider's discovery document at {Issuer} could not be read", oidc.Issuer);
            throw new SsoException("failed");
        }
    }

    private static Task<TokenValidationResult> ValidateAsync(string idToken, OidcConfig oidc, OpenIdConnectConfiguration configuration) =>
        new JsonWebTokenHandler().ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = oidc.Issuer, ValidAudience = oidc.ClientId, IssuerSigningKeys = configuration.SigningKeys,
            ValidateLifetime = true, ClockSkew = TimeSpan.FromMinutes(2), RequireSignedTokens = true,
        });

    /// <summary>
    /// email_verified speaks of the standard email claim: an address from another claim is trusted only when it is that
    /// same verified address.
    /// </summary>
    private static bool Verified(JsonWebToken token, string email) =>
        (token.TryGetPayloadValue<bool>("email_verified", out var verified) ? verified
            : token.TryGetPayloadValue<string>("email_verified", out var text) && text == "true")
        && token.TryGetPayloadValue<string>("email", out var standard) && string.Equals(standard?.Trim(), email.Trim(), StringComparison.OrdinalIgnoreCase);

    /// <summary>The groups the token names; null when it names none (the claim is missing: the provider did not say, not "no groups").</summary>
    private static IReadOnlyList<string>? Groups(JsonWebToken token, string claim)
    {
        if (claim.Length == 0) return null;
        if (token.TryGetPayloadValue<string[]>(claim, out var many)) return many;
        return token.TryGetPayloadValue<string>(claim, out var one) ? [one] : null;
    }

    private static string Random() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));

    public static string Challenge(string verifier) => Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Query(Dictionary<string, string> values) =>
        string.Join('&', values.Select(v => Uri.EscapeDataString(v.Key) + "=" + Uri.EscapeDataString(v.Value)));
}
