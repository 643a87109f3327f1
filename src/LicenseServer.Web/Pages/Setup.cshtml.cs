using LicenseServer.Web.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

/// <summary>A3: the one-time default account, right after activation.</summary>
public sealed class SetupModel(AccountService accounts) : PageModel
{
    public string? Email { get; private set; }
    public string? Error { get; private set; }

    public async Task<IActionResult> OnGetAsync() =>
        await accounts.DefaultAccountExistsAsync() ? RedirectToPage("/Account/SignIn") : Page();

    public async Task<IActionResult> OnPostAsync(string? email, string? password, string? confirmation)
    {
        Email = email;
        try
        {
            if (!await accounts.CreateDefaultAccountAsync(email ?? "", password ?? "", confirmation ?? ""))
            {
                TempData["Info"] = "The default account exists already. Sign in with it.";
                return RedirectToPage("/Account/SignIn");
            }
        }
        catch (PasswordRuleException e)
        {
            Error = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }
        TempData["Info"] = "The default account is ready. Sign in with it.";
        return RedirectToPage("/Account/SignIn");
    }
}
