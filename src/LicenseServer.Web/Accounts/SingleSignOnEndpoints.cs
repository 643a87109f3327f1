using System.Text.RegularExpressions;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Api;
using LicenseServer.Web.Licenses;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace LicenseServer.Web.Accounts;

public sealed record SsoTokenRequest(string Code, string CodeVerifier, string RedirectUri);

/// <summary>
/// The addresses of signing in through the OpenID provider: the console's button and the provider's answer, and the
/// desktop flow of RFC 8252 (the client opens the browser on /api/v1/auth/sso/start with its loopback address and a
/// PKCE challenge, receives a one-time code there, and exchanges it for the usual bearer token).
/// </summary>
public static partial class SingleSignOnEndpoints
{
    public static void MapSingleSignOn(this WebApplication app)
    {
        app.MapGet("/account/sso/start", ConsoleStartAsync).ExcludeFromDescription();
        app.MapGet(SingleSignOn.CallbackPath, CallbackAsync).ExcludeFromDescription();
        var v1 = app.MapGroup("/api/v1/auth/sso").WithTags("Client API");
        // A page the browser opens, answered by a redirect to the provider: not an operation of the JSON API, so not in
        // its document (docs/client-protocol.md describes it).
        v1.MapGet("/start", DesktopStartAsync).ExcludeFromDescription();
        v1.MapPost("/token", TokenAsync).WithName("SsoToken")
            .WithSummary("Exchanges the one-time code a desktop sign-in sent to the loopback address, with the PKCE verifier, for a bearer token.")
            .Accepts<SsoTokenRequest>("application/json").Produces<LoginResponse>();
    }

    private static async Task<IResult> ConsoleStartAsync(HttpContext context, SingleSignOn sso, string? returnUrl)
    {
        try
        {
            var local = returnUrl is { Length: > 0 } && returnUrl[0] == '/' && !returnUrl.StartsWith("//", StringComparison.Ordinal) && !returnUrl.StartsWith("/\\", StringComparison.Ordinal);
            return Results.Redirect(await sso.StartAsync(context, local ? returnUrl : "/", null));
        }
        catch (SsoException e)
        {
            return Results.Redirect("/Account/SignIn?ssoError=" + e.Code);
        }
    }

    private static async Task<IResult> CallbackAsync(HttpContext context, SingleSignOn sso, TimeProvider clock, string? code, string? state, string? error)
    {
        try
        {
            var (account, request) = await sso.FinishAsync(context, code, state, error);
            if (request.ClientRedirect is not null)
                return Results.Redirect(WithQuery(request.ClientRedirect, ("code", await sso.IssueDesktopCodeAsync(account.Id, request)), ("state", request.ClientState)));
            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, KitClaims.For(account, clock.GetUtcNow()));
            return Results.LocalRedirect(request.ReturnUrl ?? "/");
        }
        catch (SsoException e)
        {
            // A desktop sign-in is told at its own address (RFC 6749 4.1.2.1), with the sentence to show.
            if (e.Request?.ClientRedirect is { } client)
                return Results.Redirect(WithQuery(client, ("error", "access_denied"), ("error_description", e.Message), ("state", e.Request.ClientState)));
            return Results.Redirect("/Account/SignIn?ssoError=" + e.Code);
        }
    }

    private static async Task<IResult> DesktopStartAsync(HttpContext context, SingleSignOn sso, string? redirect_uri, string? state, string? code_challenge, string? code_challenge_method)
    {
        if (redirect_uri is null || !IsLoopback(redirect_uri))
            throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", "redirect_uri must be the client's loopback address, such as http://127.0.0.1:51234/callback.");
        if (code_challenge_method != "S256" || code_challenge is null || !Challenge().IsMatch(code_challenge))
            throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", "Send code_challenge (43 base64url characters) with code_challenge_method=S256.");
        if (state is null || state.Length is 0 or > 200 || state.Any(char.IsControl))
            throw new ApiException(StatusCodes.Status400BadRequest, "invalid_request", "Send a state of 1 to 200 characters; the redirect carries it back.");
        try
        {
            return Results.Redirect(await sso.StartAsync(context, null, new DesktopRequest(redirect_uri, state, code_challenge)));
        }
        catch (SsoException e) when (e.Code == "not_configured")
        {
            throw new ApiException(StatusCodes.Status404NotFound, "sso_not_configured", e.Message);
        }
        catch (SsoException e)
        {
            // The provider cannot be asked: the client is told at its own address, as it would be by the provider.
            return Results.Redirect(WithQuery(redirect_uri, ("error", "temporarily_unavailable"), ("error_description", e.Message), ("state", state)));
        }
    }

    private static async Task<IResult> TokenAsync(HttpContext context, SingleSignOn sso, ClientLicenseService service, UserAccountRepository accounts)
    {
        var request = await ApiJson.ReadAsync<SsoTokenRequest>(context.Request);
        var userId = await sso.RedeemDesktopCodeAsync(request.Code, request.CodeVerifier, request.RedirectUri);
        var account = userId is { } id ? await accounts.FindByIdAsync(id) : null;
        if (account is null || account.Disabled)
            throw new ApiException(StatusCodes.Status400BadRequest, "invalid_grant", "The sign-in code is unknown, used, expired, or was not issued to this verifier and address: sign in again.");
        var token = await service.IssueTokenAsync(account);
        return Results.Json(new LoginResponse(token.Token, token.ExpiresAt, token.Email,
            token.Organizations.Select(ClientApi.Dto).ToList()), ClientApi.Json);
    }

    /// <summary>RFC 8252 7.3: http on a loopback IP literal with a port; no other address may receive a code.</summary>
    private static bool IsLoopback(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.Scheme == Uri.UriSchemeHttp && parsed.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
        && parsed.IsLoopback && !parsed.IsDefaultPort && string.IsNullOrEmpty(parsed.Fragment) && string.IsNullOrEmpty(parsed.UserInfo) && uri.Length <= 500;

    private static string WithQuery(string uri, params (string Name, string? Value)[] values) =>
        uri + (uri.Contains('?') ? "&" : "?") + string.Join('&', values.Where(v => v.Value is not null).Select(v => v.Name + "=" + Uri.EscapeDataString(v.Value!)));

    [GeneratedRegex("^[A-Za-z0-9_-]{43}$")]
    private static partial Regex Challenge();
}
