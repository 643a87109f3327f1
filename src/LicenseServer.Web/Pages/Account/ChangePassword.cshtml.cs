using LicenseServer.Web.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>Change password. Every other session of the user ends (new security stamp); this one is renewed; the user is told by mail.</summary>
public sealed class ChangePasswordModel(AccountService accounts, AccountMailQueue mail, TimeProvider clock) : PageModel
{
    public bool MustChange => User.HasClaim(KitClaims.MustChangePassword, "true");
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public void OnGet() => Info = TempData["Info"] as string;

    public async Task<IActionResult> OnPostAsync(string? currentPassword, string? newPassword, string? confirmation)
    {
        try
        {
            var account = await accounts.ChangePasswordAsync(User.UserId(), currentPassword ?? "", newPassword ?? "", confirmation ?? "");
            await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, KitClaims.For(account, clock.GetUtcNow()));
            mail.PasswordChanged(account.Id);
            TempData["Info"] = "Your password has been changed.";
            return RedirectToPage("/Index");
        }
        catch (PasswordRuleException e)
        {
            Error = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }
    }
}
