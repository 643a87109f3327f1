using LicenseServer.Core.Organizations;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>The teams of an organization.</summary>
public sealed class TeamsModel(TeamService teams, ImpactRepository impact) : OrganizationPageModel
{
    public IReadOnlyList<TeamRow> Teams { get; private set; } = [];
    public ListView TeamList => field ??= new(Request, "teams", "teams");

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        Teams = TeamList.Showing(await teams.PageAsync(Membership, TeamList.Query)).Rows;
    }

    [Requires(OrgPermission.ManageTeams)]
    public Task<IActionResult> OnPostCreateAsync(string? name) => ActAsync(async () =>
    {
        await teams.CreateAsync(Membership, name);
        return "The team has been created.";
    });

    [Requires(OrgPermission.ManageTeams)]
    public async Task<IActionResult> OnPostDeleteAsync(long teamId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.TeamAsync(Membership.OrganizationId, teamId) is { } team
                ? new Confirmation($"Delete the team {team.Name}?",
                    $"Its {Confirmation.Count(team.Members, "member stays", "members stay")} in the organization with their licenses; " +
                    $"its {Confirmation.Count(team.ReservedSeats, "reserved seat returns", "reserved seats return")} to everyone.",
                    "Delete", "Delete", new Dictionary<string, string> { ["teamId"] = $"{teamId}" })
                : null, "That team does not exist.", async () =>
            {
                Teams = TeamList.Showing(await teams.PageAsync(Membership, TeamList.Query)).Rows;
                return true;
            });
        return await DeleteAsync(teamId);
    }

    private Task<IActionResult> DeleteAsync(long teamId) => ActAsync(async () =>
    {
        await teams.DeleteAsync(Membership, teamId);
        return "The team has been deleted.";
    });

    private Task<IActionResult> ActAsync(Func<Task<string>> action) => ActAsync(action, async () =>
    {
        Teams = TeamList.Showing(await teams.PageAsync(Membership, TeamList.Query)).Rows;
        return true;
    });
}
