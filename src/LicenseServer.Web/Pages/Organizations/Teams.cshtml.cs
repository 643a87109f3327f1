using LicenseServer.Core.Organizations;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>The teams of an organization.</summary>
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

    private Task<IActionResult> ActAsync(Func<Task<string>> action) => ActAsync(action, async () =>
    {
        Teams = await teams.ListAsync(Membership);
        return true;
    });
}
