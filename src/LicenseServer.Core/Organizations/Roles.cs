namespace LicenseServer.Core.Organizations;

public enum OrgRole { Owner, Admin, Member }

/// <summary>What a member may do in an organization. Every management page and endpoint names one.</summary>
public enum OrgPermission
{
    View,
    Rename,
    ManageMembers,
    ManageTeams,
    /// <summary>The organization's Settings page: its mail server and its usage alerts.</summary>
    ManageSettings,
    ManageLicenses,
    /// <summary>Offline licenses bind a seat for good: Owner and Admin only, as the seeds say.</summary>
    ManageOfflineLicenses,
    /// <summary>Every member may make and revoke API keys of their own.</summary>
    UseApiKeys,
    /// <summary>Upload and delete plugin packages: Owner and Admin.</summary>
    ManagePlugins,
}

public sealed record Membership(long OrganizationId, string OrganizationName, long UserId, OrgRole Role, bool CanManageLicenses)
{
    public bool Has(OrgPermission permission) => RolePolicy.Allows(Role, CanManageLicenses, permission);
}

/// <summary>Owner and Admin manage everything; a Member views, and manages licenses only with that permission.</summary>
public static class RolePolicy
{
    public static bool Allows(OrgRole role, bool canManageLicenses, OrgPermission permission) => role switch
    {
        OrgRole.Owner or OrgRole.Admin => true,
        _ => permission is OrgPermission.View or OrgPermission.UseApiKeys || (permission == OrgPermission.ManageLicenses && canManageLicenses),
    };

    /// <summary>Only an Owner may make or unmake an Owner; an Admin manages Admins and Members.</summary>
    public static bool CanChangeRole(OrgRole actor, OrgRole from, OrgRole to) =>
        actor == OrgRole.Owner || (actor == OrgRole.Admin && from != OrgRole.Owner && to != OrgRole.Owner);

    public static string ToText(OrgRole role) => role switch
    {
        OrgRole.Owner => "owner",
        OrgRole.Admin => "admin",
        _ => "member",
    };

    public static OrgRole Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "owner" => OrgRole.Owner,
        "admin" => OrgRole.Admin,
        "member" => OrgRole.Member,
        _ => throw new FormatException($"\"{text}\" is not a role: choose Owner, Admin or Member."),
    };

    public static string Display(OrgRole role) => role.ToString();
}
