using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>One team: rename, add and remove members, reserve seats of products.</summary>
public sealed class TeamModel(TeamService teams, ImpactRepository impact) : OrganizationPageModel
{
    [FromRoute] public long TeamId { get; set; }
    public TeamRow? Team { get; private set; }
    public IReadOnlyList<TeamMemberRow> Members { get; private set; } = [];
    public ListView MemberList => field ??= new(Request, "members", "team members");
    public IReadOnlyList<TeamProductRow> Reservations { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        Info = TempData["Info"] as string;
        return await LoadAsync() ? Page() : NotFound();
    }

    [Requires(OrgPermission.ManageTeams)]
    public Task<IActionResult> OnPostRenameAsync(string? name) => ActAsync(async () =>
    {
        await teams.RenameAsync(Membership, TeamId, name);
        return "The team has been renamed.";
    });

    [Requires(OrgPermission.ManageTeams)]
    public Task<IActionResult> OnPostAddMemberAsync(string? email) => ActAsync(async () =>
    {
        await teams.AddMemberAsync(Membership, TeamId, email);
        return "The member has been added to the team.";
    });

    [Requires(OrgPermission.ManageTeams)]
    public async Task<IActionResult> OnPostRemoveMemberAsync(long userId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.TeamMemberAsync(Membership.OrganizationId, TeamId, userId) is { } m
                ? new Confirmation($"Remove {m.Email} from the team {m.Team}?",
                    (m.ReservedSeats == 0 ? "" : $"They no longer draw on the {Confirmation.Count(m.ReservedSeats, "seat", "seats")} the team reserves. ") +
                    "Their licenses, sessions and membership of the organization stay.",
                    "RemoveMember", "Remove", new Dictionary<string, string> { ["userId"] = $"{userId}" })
                : null, "That user is not in this team.", LoadAsync);
        return await RemoveMemberAsync(userId);
    }

    private Task<IActionResult> RemoveMemberAsync(long userId) => ActAsync(async () =>
    {
        await teams.RemoveMemberAsync(Membership, TeamId, userId);
        return "The member has been removed from the team.";
    });

    [Requires(OrgPermission.ManageTeams)]
    public Task<IActionResult> OnPostReserveAsync(string? product, string? seats) => ActAsync(async () =>
    {
        await teams.SetReservationAsync(Membership, TeamId, product, seats);
        return $"The team's {product} reservation has been saved.";
    });

    private Task<IActionResult> ActAsync(Func<Task<string>> action) => ActAsync(action, LoadAsync);

    private async Task<bool> LoadAsync()
    {
        Team = await teams.FindAsync(Membership, TeamId);
        if (Team is null) return false;
        Members = MemberList.Showing(await teams.MembersAsync(Membership, TeamId, MemberList.Query)).Rows;
        Reservations = await teams.ReservationsAsync(Membership, TeamId);
        return true;
    }
}
