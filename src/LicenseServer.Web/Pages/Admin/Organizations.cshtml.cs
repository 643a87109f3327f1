using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>All organizations: owners, members, and each product's seats in use against the organization's share; search and sort.</summary>
public sealed class AdminOrganizationsModel(OrganizationListRepository organizations, LicenseRepository licenses) : PageModel
{
    public IReadOnlyList<OrganizationListRow> Rows { get; private set; } = [];
    public IReadOnlyDictionary<long, IReadOnlyList<PoolRow>> Pools { get; private set; } = new Dictionary<long, IReadOnlyList<PoolRow>>();
    public ListView List => field ??= new(Request, "orgs", "organizations");

    public async Task OnGetAsync()
    {
        Rows = List.Showing(await organizations.PageAsync(List.Query)).Rows;
        var pools = new Dictionary<long, IReadOnlyList<PoolRow>>();
        foreach (var row in Rows) pools[row.Id] = await licenses.PoolsAsync(row.Id);
        Pools = pools;
    }
}
