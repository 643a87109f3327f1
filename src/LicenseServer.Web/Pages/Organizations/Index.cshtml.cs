using LicenseServer.Core.Organizations;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

public sealed class OrganizationModel(OrganizationService organizations) : OrganizationPageModel
{
    public void OnGet() => Info = TempData["Info"] as string;

    [Requires(OrgPermission.Rename)]
    public async Task<IActionResult> OnPostRenameAsync(string? name)
    {
        try
        {
            await organizations.RenameAsync(Membership, name);
            TempData["Info"] = "The organization has been renamed.";
            return Redirect($"/Organizations/{Membership.OrganizationId}");
        }
        catch (OrganizationRuleException e)
        {
            Refuse(e.Message);
            return Page();
        }
    }
}
