using System.Security.Claims;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Accounts;

public static class KitClaims
{
    public const string SecurityStamp = "kit:stamp";
    public const string MustChangePassword = "kit:must_change_password";
    public const string SignedInAt = "kit:signed_in_at";
    public const string ServerAdminRole = "ServerAdmin";

    public static long UserId(this ClaimsPrincipal user) =>
        long.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("Not signed in."), System.Globalization.CultureInfo.InvariantCulture);

    public static ClaimsPrincipal For(UserAccountRow account, DateTimeOffset now) => new(new ClaimsIdentity(
    [
        new Claim(ClaimTypes.NameIdentifier, account.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new Claim(ClaimTypes.Email, account.Email),
        new Claim(ClaimTypes.Name, account.Email),
        new Claim(SecurityStamp, account.SecurityStamp.ToString()),
        new Claim(SignedInAt, now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
        .. account.MustChangePassword ? [new Claim(MustChangePassword, "true")] : Array.Empty<Claim>(),
        .. account.IsServerAdmin ? [new Claim(ClaimTypes.Role, ServerAdminRole)] : Array.Empty<Claim>(),
    ], CookieAuthenticationDefaults.AuthenticationScheme));
}

/// <summary>
/// Cookie names and policy. The __Host- prefix needs HTTPS; the seeds' server URLs are plain
/// http://&lt;IP&gt;:8080 on an intranet, where a Secure-only cookie would never come back, so the
/// prefix and Secure are used exactly when the configured server URL is https.
/// </summary>
public static class CookieNames
{
    private static bool Https(KitOptions options) => options.ServerUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    public static string Session(KitOptions options) => Https(options) ? "__Host-kit.session" : "kit.session";
    public static string Antiforgery(KitOptions options) => Https(options) ? "__Host-kit.af" : "kit.af";
    /// <summary>The one-time messages pages show after a redirect (TempData).</summary>
    public static string Messages(KitOptions options) => Https(options) ? "__Host-kit.msg" : "kit.msg";
    public static CookieSecurePolicy SecurePolicy(KitOptions options) => Https(options) ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
}

internal static class AuthenticationSetup
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan AbsoluteTimeout = TimeSpan.FromHours(12);
    public const string ServerAdminPolicy = "ServerAdmin";

    public static void AddKitAuthentication(this IServiceCollection services, KitOptions options)
    {
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.Cookie.Name = CookieNames.Session(options);
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieNames.SecurePolicy(options);
                o.ExpireTimeSpan = IdleTimeout;
                o.SlidingExpiration = true;
                o.LoginPath = "/Account/SignIn";
                o.AccessDeniedPath = "/Error";
                o.ReturnUrlParameter = "returnUrl";
                o.Events.OnValidatePrincipal = ValidateAsync;
                // A signed-in user without the right gets a plain 403 (rendered by /Error), not a redirect.
                o.Events.OnRedirectToAccessDenied = context =>
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    return Task.CompletedTask;
                };
            });
        services.AddAuthorization(o => o.AddPolicy(ServerAdminPolicy, p => p.RequireRole(KitClaims.ServerAdminRole)));
        // TempData's cookie follows the same policy as the others (it is HttpOnly by default).
        services.Configure<CookieTempDataProviderOptions>(o =>
        {
            o.Cookie.Name = CookieNames.Messages(options);
            o.Cookie.SecurePolicy = CookieNames.SecurePolicy(options);
        });
    }

    /// <summary>A disabled user, a changed password (new stamp) or a session older than 12 hours ends the session.</summary>
    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal!;
        var accounts = context.HttpContext.RequestServices.GetRequiredService<UserAccountRepository>();
        var clock = context.HttpContext.RequestServices.GetRequiredService<TimeProvider>();
        var signedIn = long.TryParse(principal.FindFirstValue(KitClaims.SignedInAt), out var at) ? DateTimeOffset.FromUnixTimeSeconds(at) : DateTimeOffset.MinValue;
        var account = long.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), out var id) ? await accounts.FindByIdAsync(id) : null;
        if (account is null || account.Disabled || account.SecurityStamp.ToString() != principal.FindFirstValue(KitClaims.SecurityStamp)
            || clock.GetUtcNow() - signedIn > AbsoluteTimeout)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
    }
}
