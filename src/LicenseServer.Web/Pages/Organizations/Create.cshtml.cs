using LicenseServer.Web.Accounts;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>O1: any signed-in user creates an organization and becomes its Owner.</summary>
public sealed class CreateModel(OrganizationService organizations) : PageModel
{
    public string? Name { get; private set; }
    public string? Error { get; private set; }

    public void OnGet() { }

    public async Task<IActionResult> OnPostAsync(string? name)
    {
        Name = name is { Length: > 200 } ? name[..200] : name;
        try
        {
            var id = await organizations.CreateAsync(name, User.UserId());
            TempData["Info"] = "The organization has been created. You are its Owner.";
            return Redirect($"/Organizations/{id}");
        }
        catch (OrganizationRuleException e)
        {
            Error = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }
    }
}
