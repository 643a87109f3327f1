using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>Several per-user products for several selected users at once, all or nothing.</summary>
public sealed class BulkModel(LicenseService licenses, OrganizationService organizations) : OrganizationPageModel
{
    public IReadOnlyList<PoolRow> Products { get; private set; } = [];
    public IReadOnlyList<MemberRow> Members { get; private set; } = [];

    [Requires(OrgPermission.ManageLicenses)]
    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostGrantAsync(string[]? products, long[]? userIds) => RunAsync(products, userIds, grant: true);

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostRecallAsync(string[]? products, long[]? userIds) => RunAsync(products, userIds, grant: false);

    private async Task<IActionResult> RunAsync(string[]? products, long[]? userIds, bool grant)
    {
        try
        {
            await licenses.BulkAsync(Membership, products ?? [], userIds ?? [], grant);
            TempData["Info"] = grant ? "The selected licenses have been granted." : "The selected licenses have been recalled.";
            return Redirect($"/Organizations/{Membership.OrganizationId}/Licenses/Bulk");
        }
        catch (LicenseRuleException e)
        {
            Refuse(e.Message);
            await LoadAsync();
            return Page();
        }
    }

    private async Task LoadAsync()
    {
        Products = (await licenses.PoolsAsync(Membership)).Where(p => p.Kind == ProductKind.PerUser).ToList();
        Members = await organizations.MembersAsync(Membership);
    }
}
