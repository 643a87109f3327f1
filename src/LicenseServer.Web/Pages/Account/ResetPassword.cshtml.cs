using LicenseServer.Web.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>U3: a reset link, used once within the hour; it ends the user's sessions.</summary>
public sealed class ResetPasswordModel(PasswordResetService resets) : PageModel
{
    public string? Token { get; private set; }
    public string? LinkProblem { get; private set; }
    public string? Error { get; private set; }

    public async Task OnGetAsync(string? token)
    {
        Token = token;
        LinkProblem = await resets.CheckLinkAsync(token);
        if (LinkProblem is not null) Response.StatusCode = StatusCodes.Status400BadRequest;
    }

    public async Task<IActionResult> OnPostAsync(string? token, string? password, string? confirmation)
    {
        Token = token;
        try
        {
            LinkProblem = await resets.ResetAsync(token, password, confirmation);
            if (LinkProblem is null)
            {
                TempData["Info"] = "Your password has been reset. Sign in with the new password.";
                return RedirectToPage("/Account/SignIn");
            }
        }
        catch (PasswordRuleException e)
        {
            Error = e.Message;
        }
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
