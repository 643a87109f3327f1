using LicenseServer.Core.Organizations;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

public sealed class OrganizationModel(OrganizationService organizations) : OrganizationPageModel
{
    public void OnGet() => Info = TempData["Info"] as string;

    [Requires(OrgPermission.Rename)]
    public Task<IActionResult> OnPostRenameAsync(string? name) => ActAsync(async () =>
    {
        await organizations.RenameAsync(Membership, name);
        return "The organization has been renamed.";
    }, () => Task.FromResult(true));
}
