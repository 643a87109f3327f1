using LicenseServer.Web.Accounts;
using LicenseServer.Web.Mail;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>
/// Forgot password, offered only when the server has a mail server of its own (an organization's never carries
/// a reset link). The same answer, as fast, whether or not the email exists: the mail is sent in the background.
/// </summary>
public sealed class ForgotPasswordModel(AccountMailQueue mail, MailService servers) : PageModel
{
    public bool MailAvailable { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync() => MailAvailable = await servers.ServerConfiguredAsync();

    public async Task OnPostAsync(string? email)
    {
        MailAvailable = await servers.ServerConfiguredAsync();
        if (!MailAvailable) return;
        mail.RequestResetLink(email);
        Info = "If an account with this email exists, a link to reset the password is on its way. " +
               "It works once, for 60 minutes. If no email arrives, ask your administrator.";
    }
}
