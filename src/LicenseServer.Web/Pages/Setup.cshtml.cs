using System.Globalization;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

/// <summary>
/// The one-time default account, right after activation. It asks for the setup code that activation wrote to
/// the server's log and data directory: whoever reaches the page first over the network is not enough.
/// </summary>
public sealed class SetupModel(AccountService accounts) : PageModel
{
    public string? Email { get; private set; }
    public string? Error { get; private set; }

    public async Task<IActionResult> OnGetAsync() =>
        await accounts.DefaultAccountExistsAsync() ? RedirectToPage("/Account/SignIn") : Page();

    public async Task<IActionResult> OnPostAsync(string? email, string? password, string? confirmation, string? setupCode)
    {
        Email = email;
        try
        {
            var address = HttpContext.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            var result = await accounts.CreateDefaultAccountAsync(email ?? "", password ?? "", confirmation ?? "", setupCode ?? "", address);
            if (result.Throttled)
            {
                var minutes = Math.Max(1, (int)Math.Ceiling(result.RetryAfter!.Value.TotalMinutes));
                Response.Headers.RetryAfter = ((int)Math.Ceiling(result.RetryAfter.Value.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return Refuse(StatusCodes.Status429TooManyRequests, $"Too many wrong setup codes. Wait {minutes} minute{(minutes == 1 ? "" : "s")} and try again.");
            }
            switch (result.Outcome)
            {
                case DefaultAccountOutcome.WrongSetupCode:
                    return Refuse(StatusCodes.Status403Forbidden,
                        "The setup code is not correct. Copy it from the file setup-code in the server's data directory, or from the server's log.");
                case DefaultAccountOutcome.Exists:
                    TempData["Info"] = "The default account exists already. Sign in with it.";
                    return RedirectToPage("/Account/SignIn");
            }
        }
        catch (PasswordRuleException e)
        {
            return Refuse(StatusCodes.Status400BadRequest, e.Message);
        }
        TempData["Info"] = "The default account is ready. Sign in with it.";
        return RedirectToPage("/Account/SignIn");
    }

    private PageResult Refuse(int status, string message)
    {
        Error = message;
        Response.StatusCode = status;
        return Page();
    }
}
