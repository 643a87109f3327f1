using LicenseServer.Core.Organizations;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>Members with their roles, invitations and Pending Activations.</summary>
public sealed class UsersModel(OrganizationService organizations, InvitationService invitations, ImpactRepository impact) : OrganizationPageModel
{
    public IReadOnlyList<MemberRow> Members { get; private set; } = [];
    public IReadOnlyList<InvitationView> Invitations { get; private set; } = [];
    public IReadOnlyList<SentInvitation> NewLinks { get; private set; } = [];
    public IReadOnlyList<string> Problems { get; private set; } = [];
    public string? Emails { get; private set; }
    public ListView MemberList => field ??= new(Request, "members", "members");
    public ListView InvitationList => field ??= new(Request, "invitations", "invitations");

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    [Requires(OrgPermission.ManageMembers)]
    public async Task<IActionResult> OnPostInviteAsync(string? emails)
    {
        var result = await invitations.InviteAsync(Membership, emails);
        if (result.Problems.Count > 0)
        {
            Problems = result.Problems;
            Emails = emails is { Length: > 30000 } ? emails[..30000] : emails;
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        else
        {
            NewLinks = result.Sent;
            Info = result.Sent.Count == 1 ? $"{result.Sent[0].Email} has been invited." : $"{result.Sent.Count} people have been invited.";
        }
        await LoadAsync();
        return Page();
    }

    [Requires(OrgPermission.ManageMembers)]
    public async Task<IActionResult> OnPostResendAsync(long invitationId)
    {
        var sent = await invitations.ResendAsync(Membership, invitationId);
        if (sent is null) Refuse("That invitation cannot be resent: it has been accepted or revoked.");
        else
        {
            NewLinks = [sent];
            Info = $"A new invitation link for {sent.Email} is ready; the old one no longer works.";
        }
        await LoadAsync();
        return Page();
    }

    [Requires(OrgPermission.ManageMembers)]
    public async Task<IActionResult> OnPostRevokeAsync(long invitationId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.OpenInvitationAsync(Membership.OrganizationId, invitationId) is { } email
                ? new Confirmation($"Revoke the invitation of {email}?", "Its link stops working at once; you can invite them again later.",
                    "Revoke", "Revoke", new Dictionary<string, string> { ["invitationId"] = $"{invitationId}" })
                : null, "That invitation cannot be revoked: it has been accepted or revoked already.", ReloadAsync);
        return await RevokeAsync(invitationId);
    }

    private Task<IActionResult> RevokeAsync(long invitationId) => ActAsync(async () =>
    {
        if (!await invitations.RevokeAsync(Membership, invitationId))
            throw new OrganizationRuleException("That invitation cannot be revoked: it has been accepted or revoked already.");
        return "The invitation has been revoked.";
    });

    [Requires(OrgPermission.ManageMembers)]
    public Task<IActionResult> OnPostRoleAsync(long userId, string? role) => ActAsync(async () =>
    {
        await organizations.ChangeRoleAsync(Membership, userId, role);
        return "The role has been changed.";
    });

    [Requires(OrgPermission.ManageMembers)]
    public Task<IActionResult> OnPostLicensePermissionAsync(long userId, bool allowed) => ActAsync(async () =>
    {
        await organizations.SetLicensePermissionAsync(Membership, userId, allowed);
        return allowed ? "The member may now manage user licenses." : "The member may no longer manage user licenses.";
    });

    [Requires(OrgPermission.ManageMembers)]
    public async Task<IActionResult> OnPostRemoveAsync(long userId, bool confirmed)
    {
        if (!confirmed)
        {
            var m = await impact.MemberRemovalAsync(Membership.OrganizationId, userId);
            return await AskAsync(m is null ? null : new Confirmation($"Remove {m.Email} from {Membership.OrganizationName}?",
                $"Recalls {Confirmation.Count(m.Licenses, "license", "licenses")}, deactivates {Confirmation.Count(m.Machines, "machine", "machines")}, " +
                $"ends {Confirmation.Count(m.Sessions, "session", "sessions")}, revokes {Confirmation.Count(m.ApiKeys, "API key", "API keys")} " +
                $"and takes them out of {Confirmation.Count(m.Teams, "team", "teams")}. Their account stays; they can be invited again.",
                "Remove", "Remove", new Dictionary<string, string> { ["userId"] = $"{userId}" }), "That user is not a member of this organization.", ReloadAsync);
        }
        return await RemoveAsync(userId);
    }

    private Task<IActionResult> RemoveAsync(long userId) => ActAsync(async () =>
    {
        await organizations.RemoveAsync(Membership, userId);
        return "The member has been removed.";
    });

    private Task<IActionResult> ActAsync(Func<Task<string>> action) => ActAsync(action, ReloadAsync);

    private async Task<bool> ReloadAsync()
    {
        await LoadAsync();
        return true;
    }

    private async Task LoadAsync()
    {
        Members = MemberList.Showing(await organizations.MembersAsync(Membership, MemberList.Query)).Rows;
        if (Membership.Has(OrgPermission.ManageMembers)) Invitations = InvitationList.Showing(await invitations.ListAsync(Membership, InvitationList.Query)).Rows;
    }
}
