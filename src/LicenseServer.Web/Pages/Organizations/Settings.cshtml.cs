using LicenseServer.Core.Organizations;
using LicenseServer.Web.Alerts;
using LicenseServer.Web.Mail;
using Microsoft.AspNetCore.Mvc;
using LicenseServer.Web.Organizations;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>
/// O6: the organization's mail server: Update, and Send test email, whose error names the kind of failure (never the server's own words).
/// L12: usage alerts (threshold, refusals, webhook); like the mail server, for Owners and Admins (ManageMail).
/// </summary>
public sealed class SettingsModel(MailService mail, AlertSettingsService alerts) : OrganizationPageModel
{
    public bool Configured { get; private set; }
    public string? Host { get; private set; }
    public string? Port { get; private set; } = "25";
    public string? Username { get; private set; }
    public bool HasPassword { get; private set; }
    public string Protocol { get; private set; } = "plain";
    public string? Sender { get; private set; }
    public string? Threshold { get; private set; }
    public bool OnRefusal { get; private set; } = true;
    public string? WebhookUrl { get; private set; }
    public bool HasWebhookSecret { get; private set; }
    /// <summary>A webhook secret the server just generated: shown on this answer only.</summary>
    public string? NewWebhookSecret { get; private set; }

    [Requires(OrgPermission.ManageMail)]
    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    [Requires(OrgPermission.ManageMail)]
    public async Task<IActionResult> OnPostUpdateAsync(string? host, string? port, string? username, string? password, string? protocol, string? sender)
    {
        try
        {
            await mail.SaveAsync(Membership.OrganizationId, host, port, username, password, protocol, sender, Membership.UserId);
            TempData["Info"] = "The mail server settings have been updated.";
            return Redirect($"/Organizations/{Membership.OrganizationId}/Settings");
        }
        catch (MailSettingsException e)
        {
            (Host, Port, Username, Protocol, Sender) = (host, port, username, protocol ?? "plain", sender);
            Configured = await mail.GetAsync(Membership.OrganizationId) is not null;
            await LoadAlertsAsync();
            Refuse(e.Message);
            return Page();
        }
    }

    [Requires(OrgPermission.ManageMail)]
    public async Task<IActionResult> OnPostTestAsync(string? recipient)
    {
        await LoadAsync();
        var settings = await mail.GetAsync(Membership.OrganizationId);
        var to = EmailList.Normalize(recipient);
        if (settings is null) Refuse("Set the mail server and click Update before sending a test email.");
        else if (!EmailList.IsValid(to)) Refuse("Enter the test recipient's email address.");
        else
        {
            try
            {
                await mail.SendAsync(settings, to, "Kit License Server test email",
                    $"This is a test email from Kit License Server for the organization \"{Membership.OrganizationName}\". The mail server settings work.");
                Info = $"The test email has been sent to {to}.";
            }
            catch (MailFailedException e)
            {
                Refuse(e.Message);
            }
        }
        return Page();
    }

    [Requires(OrgPermission.ManageMail)]
    public async Task<IActionResult> OnPostAlertsAsync(string? threshold, bool onRefusal, string? webhookUrl, string? webhookSecret, bool generateSecret)
    {
        try
        {
            var generated = await alerts.SaveAsync(Membership.OrganizationId, threshold, onRefusal, webhookUrl, webhookSecret, generateSecret, Membership.UserId);
            if (generated is null)
            {
                TempData["Info"] = "The alert settings have been updated.";
                return Redirect($"/Organizations/{Membership.OrganizationId}/Settings");
            }
            await LoadAsync();
            NewWebhookSecret = generated;
            Info = "The alert settings have been updated. Copy the webhook secret now: it is not shown again.";
            return Page();
        }
        catch (AlertSettingsException e)
        {
            await LoadAsync();
            (Threshold, OnRefusal, WebhookUrl) = (threshold, onRefusal, webhookUrl);
            Refuse(e.Message);
            return Page();
        }
    }

    private async Task LoadAlertsAsync()
    {
        var alert = await alerts.GetAsync(Membership.OrganizationId);
        if (alert is not null)
            (Threshold, OnRefusal, WebhookUrl, HasWebhookSecret) =
                (alert.ThresholdPercent?.ToString(System.Globalization.CultureInfo.InvariantCulture), alert.OnRefusal, alert.WebhookUrl, alert.WebhookSecret is not null);
    }

    private async Task LoadAsync()
    {
        await LoadAlertsAsync();
        var settings = await mail.GetAsync(Membership.OrganizationId);
        Configured = settings is not null;
        if (settings is null) return;
        (Host, Port, Username, HasPassword, Protocol, Sender) =
            (settings.Host, settings.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), settings.Username,
             settings.Password is not null, MailService.ToText(settings.Protocol), settings.Sender);
    }
}
