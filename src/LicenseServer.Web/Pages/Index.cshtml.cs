using LicenseServer.Data.Organizations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

public sealed class IndexModel(ActivationService activation, OrganizationService organizations) : PageModel
{
    public ActivationState State { get; private set; } = null!;
    public IReadOnlyList<MyOrganizationRow> Organizations { get; private set; } = [];
    public string? Info { get; private set; }
    public bool MayCreateOrganizations { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        State = await activation.GetStateAsync();
        Organizations = await organizations.MineAsync(User.UserId());
        MayCreateOrganizations = await organizations.MayCreateAsync(User.IsInRole(KitClaims.ServerAdminRole));
    }
}
