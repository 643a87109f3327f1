using LicenseServer.Core.Organizations;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>O5: the teams of an organization.</summary>
public sealed class TeamsModel(TeamService teams) : OrganizationPageModel
{
    public IReadOnlyList<TeamRow> Teams { get; private set; } = [];

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        Teams = await teams.ListAsync(Membership);
    }

    [Requires(OrgPermission.ManageTeams)]
    public Task<IActionResult> OnPostCreateAsync(string? name) => ActAsync(async () =>
    {
        await teams.CreateAsync(Membership, name);
        return "The team has been created.";
    });

    [Requires(OrgPermission.ManageTeams)]
    public Task<IActionResult> OnPostDeleteAsync(long teamId) => ActAsync(async () =>
    {
        await teams.DeleteAsync(Membership, teamId);
        return "The team has been deleted.";
    });

    private async Task<IActionResult> ActAsync(Func<Task<string>> action)
    {
        try
        {
            TempData["Info"] = await action();
            return Redirect($"/Organizations/{Membership.OrganizationId}/Teams");
        }
        catch (OrganizationRuleException e)
        {
            Refuse(e.Message);
            Teams = await teams.ListAsync(Membership);
            return Page();
        }
    }
}
