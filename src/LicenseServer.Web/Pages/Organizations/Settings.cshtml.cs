using LicenseServer.Core.Organizations;
using LicenseServer.Web.Alerts;
using LicenseServer.Web.Mail;
using Microsoft.AspNetCore.Mvc;
using LicenseServer.Web.Organizations;
using LicenseServer.Data.Organizations;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>
/// The organization's mail server (Update, Send test email, whose error names the kind of failure, never the
/// server's own words), for its own notices: invitations and alerts.
/// Usage alerts (threshold, refusals, webhook). Who may check out floating products: assigned members only, or every
/// member. All for Owners and Admins (ManageSettings).
/// </summary>
public sealed class SettingsModel(MailService mail, AlertSettingsService alerts, OrganizationRepository organizations) : OrganizationPageModel
{
    /// <summary>An organization's mail server carries its own notices; mail about a person's account goes through the server's.</summary>
    public const string NoMailServer = "No mail server is set: invitations are not emailed (copy their links instead), and usage alerts are not emailed.";

    public MailServerForm MailServer { get; private set; } = MailServerForm.Of(null, NoMailServer);
    public string? Threshold { get; private set; }
    public bool OnRefusal { get; private set; } = true;
    public string? WebhookUrl { get; private set; }
    public bool HasWebhookSecret { get; private set; }
    /// <summary>A webhook secret the server just generated: shown on this answer only.</summary>
    public string? NewWebhookSecret { get; private set; }
    public bool FloatingAssignedOnly { get; private set; } = true;

    [Requires(OrgPermission.ManageSettings)]
    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    [Requires(OrgPermission.ManageSettings)]
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
            await LoadAsync();
            MailServer = MailServer.Entered(host, port, username, protocol, sender);
            Refuse(e.Message);
            return Page();
        }
    }

    [Requires(OrgPermission.ManageSettings)]
    public async Task<IActionResult> OnPostTestAsync(string? recipient)
    {
        await LoadAsync();
        var (sent, message) = await mail.SendTestAsync(Membership.OrganizationId, recipient, $"for the organization \"{Membership.OrganizationName}\"");
        if (sent) Info = message;
        else Refuse(message);
        return Page();
    }

    [Requires(OrgPermission.ManageSettings)]
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

    [Requires(OrgPermission.ManageSettings)]
    public async Task<IActionResult> OnPostFloatingAccessAsync(string? access)
    {
        if (access is not ("assigned" or "everyone"))
        {
            await LoadAsync();
            Refuse("Choose who may check out floating licenses: assigned members only, or every member.");
            return Page();
        }
        await organizations.SetFloatingAssignedOnlyAsync(Membership.OrganizationId, access == "assigned", Membership.UserId);
        TempData["Info"] = access == "assigned"
            ? "Only members assigned a floating product may check it out now."
            : "Every member may check out floating products now.";
        return Redirect($"/Organizations/{Membership.OrganizationId}/Settings");
    }

    private async Task LoadAsync()
    {
        FloatingAssignedOnly = await organizations.FloatingAssignedOnlyAsync(Membership.OrganizationId);
        var alert = await alerts.GetAsync(Membership.OrganizationId);
        if (alert is not null)
            (Threshold, OnRefusal, WebhookUrl, HasWebhookSecret) =
                (alert.ThresholdPercent?.ToString(System.Globalization.CultureInfo.InvariantCulture), alert.OnRefusal, alert.WebhookUrl, alert.WebhookSecret is not null);
        MailServer = MailServerForm.Of(await mail.GetAsync(Membership.OrganizationId), NoMailServer);
    }
}
