using LicenseServer.Web.Accounts;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>Create an organization (its creator becomes Owner): a server admin, or anyone where the server's settings allow it.</summary>
public sealed class CreateModel(OrganizationService organizations) : PageModel
{
    public string? Name { get; private set; }
    public string? Error { get; private set; }
    public bool Closed { get; private set; }

    private bool ServerAdmin => User.IsInRole(KitClaims.ServerAdminRole);

    public async Task OnGetAsync()
    {
        if (await organizations.MayCreateAsync(ServerAdmin)) return;
        Closed = true;
        Refuse(StatusCodes.Status403Forbidden, OrganizationCreationClosedException.Sentence);
    }

    public async Task<IActionResult> OnPostAsync(string? name)
    {
        Name = name is { Length: > 200 } ? name[..200] : name;
        try
        {
            var id = await organizations.CreateAsync(name, User.UserId(), ServerAdmin);
            TempData["Info"] = "The organization has been created. You are its Owner.";
            return Redirect($"/Organizations/{id}");
        }
        catch (OrganizationRuleException e)
        {
            Refuse(StatusCodes.Status400BadRequest, e.Message);
        }
        catch (OrganizationCreationClosedException e)
        {
            Closed = true;
            Refuse(StatusCodes.Status403Forbidden, e.Message);
        }
        return Page();
    }

    private void Refuse(int status, string message)
    {
        Error = message;
        Response.StatusCode = status;
    }
}
