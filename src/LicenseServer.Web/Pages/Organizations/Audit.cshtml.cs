using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>Every membership and license action with who, when and from which address; filter; CSV export of the same rows.</summary>
public sealed class AuditModel(AuditRepository audit) : OrganizationPageModel
{
    public static readonly (string Value, string Label)[] Actions =
    [
        ("", "Everything"), ("member.", "Members"), ("invitation.", "Invitations"), ("team.", "Teams"), ("license.", "Licenses"),
        ("session.", "Sessions"), ("api_key.", "API keys"), ("plugin.", "Plugins"), ("mail.", "Mail server"), ("alert", "Alerts"), ("organization.", "Organization"),
    ];

    public AuditSearch Search => field ??= new(Request, $"/Organizations/{Membership.OrganizationId}/Audit", Actions);

    [Requires(OrgPermission.ManageMembers)]
    public async Task OnGetAsync()
    {
        if (Search.Error is not null) Response.StatusCode = StatusCodes.Status400BadRequest;
        await Search.LoadAsync(audit, Membership.OrganizationId);
    }

    [Requires(OrgPermission.ManageMembers)]
    public async Task<IActionResult> OnGetCsvAsync()
    {
        if (Search.Filter is null) return await ShowErrorAsync();
        return File(await Search.CsvAsync(audit, Membership.OrganizationId), "text/csv; charset=utf-8", $"audit-{Membership.OrganizationId}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv");
    }

    private async Task<IActionResult> ShowErrorAsync()
    {
        await OnGetAsync();
        return Page();
    }
}
