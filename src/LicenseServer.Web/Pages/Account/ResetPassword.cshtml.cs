using LicenseServer.Web.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>A reset link, used once within the hour; it ends the user's sessions, and the user is told by mail.</summary>
public sealed class ResetPasswordModel(PasswordResetService resets, AccountMailQueue mail) : PageModel
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
            var result = await resets.ResetAsync(token, password, confirmation);
            LinkProblem = result.Problem;
            if (result.UserId is { } userId)
            {
                mail.PasswordChanged(userId);
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
