using LicenseServer.Data.Audit;
using LicenseServer.Data.Settings;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Admin;
using LicenseServer.Web.Mail;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>
/// The server's own settings (server admin only, every change audited): its mail server, the only one that carries
/// mail about a person's account, and who may create organizations.
/// </summary>
public sealed class AdminSettingsModel(MailService mail, ServerSettingsService settings, AuditRepository audit) : PageModel
{
    public const string NoMailServer =
        "No mail server is set: people cannot reset a forgotten password by email, are not told when their password changes, " +
        "and server admins get no expiry warnings by email. Organizations' mail servers never carry such mail.";

    public MailServerForm MailServer { get; private set; } = MailServerForm.Of(null, NoMailServer);
    public OrganizationCreation OrganizationCreation { get; private set; }
    /// <summary>Changes of these settings, newest first.</summary>
    public IReadOnlyList<AuditRow> History { get; private set; } = [];
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    public async Task<IActionResult> OnPostUpdateAsync(string? host, string? port, string? username, string? password, string? protocol, string? sender)
    {
        try
        {
            await mail.SaveAsync(null, host, port, username, password, protocol, sender, User.UserId());
            TempData["Info"] = "The server's mail server settings have been updated.";
            return RedirectToPage();
        }
        catch (MailSettingsException e)
        {
            await LoadAsync();
            MailServer = MailServer.Entered(host, port, username, protocol, sender);
            return Refuse(e.Message);
        }
    }

    public async Task<IActionResult> OnPostTestAsync(string? recipient)
    {
        await LoadAsync();
        var (sent, message) = await mail.SendTestAsync(null, recipient, "through the server's own mail server (password resets and account notices)");
        if (!sent) return Refuse(message);
        Info = message;
        return Page();
    }

    public async Task<IActionResult> OnPostOrganizationsAsync(string? organizationCreation)
    {
        try
        {
            await settings.SetOrganizationCreationAsync(organizationCreation, User.UserId());
            TempData["Info"] = "Who may create organizations has been updated.";
            return RedirectToPage();
        }
        catch (ServerSettingsException e)
        {
            await LoadAsync();
            return Refuse(e.Message);
        }
    }

    private async Task LoadAsync()
    {
        MailServer = MailServerForm.Of(await mail.ServerAsync(), NoMailServer);
        OrganizationCreation = await settings.OrganizationCreationAsync();
        History = await audit.ServerHistoryAsync("server.");
    }

    private PageResult Refuse(string message)
    {
        Error = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
