using LicenseServer.Data.Organizations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

public sealed class IndexModel(ActivationService activation, OrganizationService organizations, LicenseService licenses) : PageModel
{
    public ActivationState State { get; private set; } = null!;
    public IReadOnlyList<MyOrganizationRow> Organizations { get; private set; } = [];
    public string? Info { get; private set; }
    public bool MayCreateOrganizations { get; private set; }

    /// <summary>For the server admin: each product's seats shared among organizations and in use, by code.</summary>
    public IReadOnlyDictionary<string, (long Shared, long InUse)> Seats { get; private set; } = new Dictionary<string, (long, long)>();

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        State = await activation.GetStateAsync();
        Organizations = await organizations.MineAsync(User.UserId());
        MayCreateOrganizations = await organizations.MayCreateAsync(User.IsInRole(KitClaims.ServerAdminRole));
        if (User.IsInRole(KitClaims.ServerAdminRole))
            Seats = (await licenses.AllocationsAsync()).GroupBy(r => r.Code).ToDictionary(g => g.Key, g => ((long)g.Sum(r => r.Quota), (long)g.Sum(r => r.InUse)));
    }
}
