using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Admin;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>Sign-in, throttled per (address, email) with a 429 answer.</summary>
public sealed class SignInModel(AccountService accounts, ActivationService activation, DirectorySettingsService directory, TimeProvider clock) : PageModel
{
    /// <summary>The OpenID provider's name for its button, when one is set.</summary>
    public string? Provider { get; private set; }
    /// <summary>Whether people may type a directory user name rather than an email.</summary>
    public bool DirectoryNames { get; private set; }
    public string? Email { get; private set; }
    public string? ReturnUrl { get; private set; }
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync(string? returnUrl, string? ssoError)
    {
        ReturnUrl = returnUrl;
        Info = TempData["Info"] as string;
        Error = ssoError is null ? null : SingleSignOn.Sentence(ssoError);
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        var state = await directory.GetAsync();
        Provider = state.Oidc?.Name;
        DirectoryNames = state.Ldap is not null;
    }

    public async Task<IActionResult> OnPostAsync(string? email, string? password, string? returnUrl)
    {
        Email = email;
        ReturnUrl = returnUrl;
        await LoadAsync();
        var address = HttpContext.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var result = await accounts.SignInAsync(email ?? "", password ?? "", address);
        switch (result.Status)
        {
            case SignInStatus.Success:
                await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, KitClaims.For(result.Account!, clock.GetUtcNow()));
                if (result.Account!.MustChangePassword) return RedirectToPage("/Account/ChangePassword");
                // Once the license or a product has expired, a server admin lands where a renewed one is uploaded.
                if (result.Account.IsServerAdmin && (await activation.ExpiryWarningsAsync()).Any(w => w.Expired))
                    return RedirectToPage("/Activate");
                return LocalRedirect(Url.IsLocalUrl(returnUrl) ? returnUrl! : "/");
            case SignInStatus.Throttled:
                var minutes = Math.Max(1, (int)Math.Ceiling(result.RetryAfter.TotalMinutes));
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                Response.Headers.RetryAfter = ((int)Math.Ceiling(result.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                Error = $"Too many failed sign-in attempts. Wait {minutes} minute{(minutes == 1 ? "" : "s")} and try again.";
                return Page();
            case SignInStatus.Refused:
                Response.StatusCode = result.Refusal!.Code == DirectorySignInService.DirectoryUnavailable.Code
                    ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status403Forbidden;
                Error = result.Refusal.Message;
                return Page();
            default:
                Response.StatusCode = StatusCodes.Status401Unauthorized;
                Error = "The email or password is not correct.";
                return Page();
        }
    }
}
