using LicenseServer.Core.Activation;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Mail;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Activation;

public sealed record LicenseBanners(IReadOnlyList<ExpiryWarning> Expiry, IReadOnlyList<OverAllocationRow> OverAllocated, bool ServerAdmin, bool NoServerMail,
    ClockBehind? ClockBehind = null);

/// <summary>
/// Banners on the pages where they matter: the license or a product ending within 30 days (or ended),
/// products whose shares exceed a smaller license, and, for server admins, organizations that send mail
/// while the server has no mail server of its own (so nobody can reset a forgotten password by email);
/// and a server clock set back, which refuses checkouts and activations. Renders nothing when all is well.
/// </summary>
public sealed class LicenseBannersViewComponent(ActivationService activation, LicenseRepository licenses, MailService mail, ClockGuard clockGuard, TimeProvider clock)
    : ViewComponent
{
    public async Task<IViewComponentResult> InvokeAsync()
    {
        var state = await activation.GetStateAsync();
        var serverAdmin = UserClaimsPrincipal.IsInRole(KitClaims.ServerAdminRole);
        var banners = new LicenseBanners(
            ActivationService.ExpiryWarnings(state, clock.GetUtcNow()),
            state.Activated ? await licenses.OverAllocationsAsync() : [],
            serverAdmin,
            serverAdmin && await mail.OnlyOrganizationsConfiguredAsync(),
            clockGuard.Behind());
        return View(banners);
    }
}
