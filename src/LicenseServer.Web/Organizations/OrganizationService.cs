using LicenseServer.Core.Organizations;
using LicenseServer.Data.Database;
using LicenseServer.Data.Organizations;

namespace LicenseServer.Web.Organizations;

public sealed class OrganizationRuleException(string message) : Exception(message);

/// <summary>This person may not create organizations on this server (the server admin's setting).</summary>
public sealed class OrganizationCreationClosedException() : Exception(Sentence)
{
    public const string Sentence = "Only a server admin can create organizations on this server. Ask a server admin to create one and invite you.";
}

/// <summary>Organizations and their members' roles.</summary>
public sealed class OrganizationService(OrganizationRepository organizations, MemberRepository members, Admin.ServerSettingsService settings)
{
    public const int MaxNameLength = 100;

    public static string CheckName(string? name, string what = "organization")
    {
        name = (name ?? "").Trim();
        if (name.Length == 0) throw new OrganizationRuleException($"Enter a name for the {what}.");
        if (name.Length > MaxNameLength) throw new OrganizationRuleException($"The {what} name is too long: {MaxNameLength} characters at most.");
        if (name.Any(char.IsControl)) throw new OrganizationRuleException($"The {what} name cannot contain control characters.");
        return name;
    }

    public Task<bool> MayCreateAsync(bool serverAdmin) => settings.MayCreateOrganizationsAsync(serverAdmin);

    /// <summary>Creates an organization with its creator as Owner, if the server's setting lets this person create one.</summary>
    public async Task<long> CreateAsync(string? name, long userId, bool serverAdmin)
    {
        var checkedName = CheckName(name);
        if (!await MayCreateAsync(serverAdmin)) throw new OrganizationCreationClosedException();
        return await organizations.CreateAsync(checkedName, userId, serverAdmin);
    }

    public Task RenameAsync(Membership actor, string? name) => organizations.RenameAsync(actor.OrganizationId, CheckName(name), actor.UserId);

    public Task<IReadOnlyList<MyOrganizationRow>> MineAsync(long userId) => organizations.ListForUserAsync(userId);

    public Task<IReadOnlyList<MemberRow>> MembersAsync(Membership actor) => members.ListAsync(actor.OrganizationId);

    public Task<ListPage<MemberRow>> MembersAsync(Membership actor, ListQuery query) => members.PageAsync(actor.OrganizationId, query);

    public async Task ChangeRoleAsync(Membership actor, long userId, string? role)
    {
        OrgRole to;
        try { to = RolePolicy.Parse(role ?? ""); }
        catch (FormatException e) { throw new OrganizationRuleException(e.Message); }
        Check(await members.ChangeRoleAsync(actor.OrganizationId, userId, to, actor), "change that member's role");
    }

    public async Task SetLicensePermissionAsync(Membership actor, long userId, bool allowed) =>
        Check(await members.SetLicensePermissionAsync(actor.OrganizationId, userId, allowed, actor), "change that member's permission");

    public async Task RemoveAsync(Membership actor, long userId) =>
        Check(await members.RemoveAsync(actor.OrganizationId, userId, actor), "remove that member");

    private static void Check(MemberChange result, string what)
    {
        switch (result)
        {
            case MemberChange.NotAMember: throw new OrganizationRuleException("That user is not a member of this organization.");
            case MemberChange.LastOwner: throw new OrganizationRuleException("An organization must keep at least one Owner. Make another member an Owner first.");
            case MemberChange.NotAllowed: throw new OrganizationRuleException($"Only an Owner can {what}: Owners are managed by Owners.");
        }
    }
}
