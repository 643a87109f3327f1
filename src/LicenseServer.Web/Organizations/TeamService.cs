using LicenseServer.Core.Organizations;
using LicenseServer.Data.Database;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;

namespace LicenseServer.Web.Organizations;

/// <summary>Teams inside an organization.</summary>
public sealed class TeamService(TeamRepository teams, ReservationRepository reservations)
{
    public Task<ListPage<TeamRow>> PageAsync(Membership actor, ListQuery query) => teams.PageAsync(actor.OrganizationId, query);

    public Task<TeamRow?> FindAsync(Membership actor, long teamId) => teams.FindAsync(actor.OrganizationId, teamId);

    public Task<ListPage<TeamMemberRow>> MembersAsync(Membership actor, long teamId, ListQuery query) => teams.MembersPageAsync(actor.OrganizationId, teamId, query);

    public async Task<long> CreateAsync(Membership actor, string? name)
    {
        var checkedName = OrganizationService.CheckName(name, "team");
        return await teams.CreateAsync(actor.OrganizationId, checkedName, actor.UserId)
            ?? throw new OrganizationRuleException($"A team named \"{checkedName}\" exists already.");
    }

    public async Task RenameAsync(Membership actor, long teamId, string? name)
    {
        var checkedName = OrganizationService.CheckName(name, "team");
        switch (await teams.RenameAsync(actor.OrganizationId, teamId, checkedName, actor.UserId))
        {
            case TeamRepository.Result.NotFound: throw NotFound();
            case TeamRepository.Result.NameTaken: throw new OrganizationRuleException($"A team named \"{checkedName}\" exists already.");
        }
    }

    public async Task DeleteAsync(Membership actor, long teamId)
    {
        if (!await teams.DeleteAsync(actor.OrganizationId, teamId, actor.UserId)) throw NotFound();
    }

    public async Task AddMemberAsync(Membership actor, long teamId, string? email)
    {
        var normalized = EmailList.Normalize(email);
        if (!EmailList.IsValid(normalized)) throw new OrganizationRuleException("Enter the email address of a member of this organization.");
        switch (await teams.AddMemberAsync(actor.OrganizationId, teamId, normalized, actor.UserId))
        {
            case TeamRepository.MemberResult.TeamNotFound: throw NotFound();
            case TeamRepository.MemberResult.NotAnOrganizationMember: throw new OrganizationRuleException($"{normalized} is not a member of this organization: invite them first.");
            case TeamRepository.MemberResult.AlreadyInTeam: throw new OrganizationRuleException($"{normalized} is in this team already.");
        }
    }

    public async Task RemoveMemberAsync(Membership actor, long teamId, long userId)
    {
        if (await teams.RemoveMemberAsync(actor.OrganizationId, teamId, userId, actor.UserId) != TeamRepository.MemberResult.Done)
            throw new OrganizationRuleException("That user is not in this team.");
    }

    /// <summary>Every product with the organization's share and this team's reservation of it.</summary>
    public Task<IReadOnlyList<TeamProductRow>> ReservationsAsync(Membership actor, long teamId) => reservations.ForTeamAsync(actor.OrganizationId, teamId);

    /// <summary>Reserves seats of a product for the team; 0 removes the reservation. Together they stay within the organization's share.</summary>
    public async Task SetReservationAsync(Membership actor, long teamId, string? product, string? seats)
    {
        if (!int.TryParse(seats, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count))
            throw new OrganizationRuleException("Reserve a whole number of seats, 0 or more (0 removes the reservation).");
        try
        {
            await reservations.SetAsync(actor.OrganizationId, teamId, product ?? "", count, actor.UserId);
        }
        catch (Core.Licenses.LicenseRuleException e)
        {
            throw new OrganizationRuleException(e.Message);
        }
    }

    private static OrganizationRuleException NotFound() => new("That team does not exist in this organization.");
}
