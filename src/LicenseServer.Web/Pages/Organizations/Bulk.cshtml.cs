using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>
/// Several products for several selected users at once, all or nothing: per-user products take seats, floating ones
/// are assigned (no seat until a session). The members are listed a page at a time, searchable.
/// </summary>
public sealed class BulkModel(LicenseService licenses, OrganizationService organizations, ImpactRepository impact) : OrganizationPageModel
{
    public IReadOnlyList<PoolRow> Products { get; private set; } = [];
    public IReadOnlyList<MemberRow> Members { get; private set; } = [];
    public ListView MemberList => field ??= new(Request, "members", "members");

    [Requires(OrgPermission.ManageLicenses)]
    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    [Requires(OrgPermission.ManageLicenses)]
    public Task<IActionResult> OnPostGrantAsync(string[]? products, long[]? userIds) => RunAsync(products, userIds, grant: true);

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostRecallAsync(string[]? products, long[]? userIds, bool confirmed)
    {
        if (confirmed || products is not { Length: > 0 } || userIds is not { Length: > 0 }) return await RunAsync(products, userIds, grant: false);
        var recall = await impact.RecallAsync(Membership.OrganizationId, products, userIds);
        var floating = (await licenses.PoolsAsync(Membership)).Where(p => p.Kind == ProductKind.Floating && products.Contains(p.Code)).Select(p => p.Code).ToList();
        return await AskAsync(new Confirmation($"Recall {Confirmation.Count(recall.Licenses, "license", "licenses")} from {Confirmation.Count(recall.Members, "member", "members")}?",
            $"Recalls {Confirmation.Count(recall.Licenses, "license", "licenses")} of {string.Join(", ", products)}. " +
            (recall.LeasedMachines == 0 ? "Their seats are free at once."
                : $"{Confirmation.Count(recall.LeasedMachines, "machine keeps its lease", "machines keep their leases")} (a lease works offline), so those seats are held until the leases end.") +
            (floating.Count == 0 ? "" : $" Their live sessions of {string.Join(", ", floating)} end now."),
            "Recall", "Recall", products.Select(p => new KeyValuePair<string, string>("products", p)).Concat(userIds.Select(u => new KeyValuePair<string, string>("userIds", $"{u}")))),
            "", async () =>
            {
                await LoadAsync();
                return true;
            });
    }

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
        Products = await licenses.PoolsAsync(Membership);
        Members = MemberList.Showing(await organizations.MembersAsync(Membership, MemberList.Query)).Rows;
    }
}
