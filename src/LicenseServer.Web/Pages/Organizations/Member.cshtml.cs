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
/// One member's licenses in this organization (Users → the member): each product with whether it is assigned to
/// them, their machines or live sessions, and Grant or Recall (asked first), by the same rules as License
/// Management. For those who manage licenses.
/// </summary>
public sealed class MemberModel(LicenseService licenses, MemberRepository members, MyLicenseRepository held, ImpactRepository impact) : OrganizationPageModel
{
    [FromRoute] public long UserId { get; set; }
    public MemberRow? Member { get; private set; }
    public IReadOnlyList<PoolRow> Pools { get; private set; } = [];
    public MyLicenses Held { get; private set; } = new([], [], []);

    public MyAssignment? Assignment(string product) => Held.Assignments.FirstOrDefault(a => a.ProductCode == product);

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnGetAsync()
    {
        Info = TempData["Info"] as string;
        return await LoadAsync() ? Page() : NotFound();
    }

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostGrantAsync(string? product)
    {
        if (await members.GetAsync(Membership.OrganizationId, UserId) is not { } member) return NotFound();
        return await RunAsync(async () =>
        {
            await licenses.AssignAsync(Membership, product ?? "", member.Email);
            return $"{product} has been assigned to {member.Email}.";
        });
    }

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnPostRecallAsync(string? product, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.LicenseAsync(Membership.OrganizationId, product ?? "", UserId) is { } license
                ? new Confirmation($"Unassign {product} from {license.Email}?", LicensesModel.Recall(license), "Recall", "Unassign",
                    new Dictionary<string, string> { ["product"] = product ?? "" })
                : null, "That member does not hold this license (any more).", LoadAsync);
        return await RunAsync(async () => await licenses.UnassignAsync(Membership, product ?? "", UserId) is { } heldUntil
            ? $"{product} has been unassigned. Its seat is free at {LicenseServer.Core.Activation.LicenseVerifier.Format(heldUntil)}, " +
              "when the last lease of the member's machines expires (a lease keeps working offline until then)."
            : $"{product} has been unassigned.");
    }

    private Task<IActionResult> RunAsync(Func<Task<string>> action) => ActAsync(action, LoadAsync);

    private async Task<bool> LoadAsync()
    {
        Member = await members.GetAsync(Membership.OrganizationId, UserId);
        if (Member is null) return false;
        Pools = await licenses.PoolsAsync(Membership);
        Held = await held.ForUserAsync(UserId, Membership.OrganizationId);
        return true;
    }
}
