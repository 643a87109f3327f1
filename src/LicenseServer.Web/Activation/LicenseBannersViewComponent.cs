using LicenseServer.Core.Activation;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Activation;

public sealed record LicenseBanners(IReadOnlyList<ExpiryWarning> Expiry, IReadOnlyList<OverAllocationRow> OverAllocated, bool ServerAdmin);

/// <summary>
/// A4 and A6 on the pages where they matter: the license or a product ending within 30 days (or
/// ended), and products whose shares exceed a smaller license. Renders nothing when all is well.
/// </summary>
public sealed class LicenseBannersViewComponent(ActivationService activation, LicenseRepository licenses, TimeProvider clock) : ViewComponent
{
    public async Task<IViewComponentResult> InvokeAsync()
    {
        var state = await activation.GetStateAsync();
        var banners = new LicenseBanners(
            ActivationService.ExpiryWarnings(state, clock.GetUtcNow()),
            state.Activated ? await licenses.OverAllocationsAsync() : [],
            UserClaimsPrincipal.IsInRole(KitClaims.ServerAdminRole));
        return View(banners);
    }
}
