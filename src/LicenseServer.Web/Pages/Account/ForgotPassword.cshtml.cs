using LicenseServer.Web.Accounts;
using LicenseServer.Web.Mail;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>U3: the same answer, as fast, whether or not the email exists: the mail is sent in the background.</summary>
public sealed class ForgotPasswordModel(PasswordResetQueue resets, MailService mail) : PageModel
{
    public bool MailAvailable { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync() => MailAvailable = await mail.AnyConfiguredAsync();

    public async Task OnPostAsync(string? email)
    {
        MailAvailable = await mail.AnyConfiguredAsync();
        if (MailAvailable) resets.Enqueue(email);
        Info = "If an account with this email exists and its organization has a mail server, a link to reset the password is on its way. " +
               "It works once, for 60 minutes. If no email arrives, ask your administrator.";
    }
}
