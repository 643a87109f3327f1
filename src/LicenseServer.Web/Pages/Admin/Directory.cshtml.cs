using LicenseServer.Core.Ldap;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Settings;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Admin;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>
/// How people sign in (server admin only, every change audited): the company's LDAP directory or Active Directory with
/// its test, an OpenID Connect provider, group mappings, and whether passwords of this server still work.
/// </summary>
public sealed class DirectoryModel(DirectorySettingsService directory, DirectorySettingsRepository settings, SingleSignOn sso, AuditRepository audit)
    : PageModel
{
    public LdapSettingsRow Ldap { get; private set; } = null!;
    public OidcSettingsRow Oidc { get; private set; } = null!;
    public LocalPasswords LocalPasswords { get; private set; }
    public IReadOnlyList<GroupMappingRow> Mappings { get; private set; } = [];
    public IReadOnlyList<(long Id, string Name)> Organizations { get; private set; } = [];
    public IReadOnlyList<AuditRow> History { get; private set; } = [];
    /// <summary>The address to register at the provider as this server's redirect URI.</summary>
    public string RedirectUri => sso.RedirectUri;
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    public async Task<IActionResult> OnPostLdapAsync(bool enabled, string? hosts, string? port, string? security, string? caCertificate, string? bindDn,
        string? bindPassword, string? searchBase, string? userFilter, string? emailAttribute, string? nameAttribute, string? groupFilter)
    {
        var form = new LdapForm(enabled, hosts, port, security, caCertificate, bindDn, bindPassword, searchBase, userFilter, emailAttribute, nameAttribute, groupFilter);
        return await SaveAsync(() => directory.SaveLdapAsync(form, User.UserId()), "The directory settings have been saved.",
            () => Ldap = new LdapSettingsRow(enabled, hosts ?? "", int.TryParse(port, out var p) ? p : 389, security ?? "starttls", caCertificate, bindDn ?? "",
                Ldap.LdapBindPasswordProtected, searchBase ?? "", userFilter ?? "", emailAttribute ?? "", nameAttribute ?? "", groupFilter ?? ""));
    }

    public async Task<IActionResult> OnPostTestLdapAsync(string? testLogin)
    {
        await LoadAsync();
        var config = (await directory.GetAsync()).Ldap;
        if (config is null) return Refuse("Turn the directory on and save its settings first; the test uses the saved settings.");
        var (ok, message) = await LdapDirectory.TestAsync(config, (testLogin ?? "").Length > 254 ? testLogin![..254] : testLogin ?? "");
        if (!ok) return Refuse(message);
        Info = message;
        return Page();
    }

    public async Task<IActionResult> OnPostOidcAsync(bool enabled, string? name, string? issuer, string? clientId, string? clientSecret, string? scopes,
        string? emailClaim, string? groupsClaim)
    {
        var form = new OidcForm(enabled, name, issuer, clientId, clientSecret, scopes, emailClaim, groupsClaim);
        return await SaveAsync(() => directory.SaveOidcAsync(form, User.UserId()), "The OpenID Connect settings have been saved.",
            () => Oidc = new OidcSettingsRow(enabled, name ?? "", issuer ?? "", clientId ?? "", Oidc.OidcClientSecretProtected, scopes ?? "", emailClaim ?? "", groupsClaim ?? ""));
    }

    public Task<IActionResult> OnPostLocalPasswordsAsync(string? localPasswords) =>
        SaveAsync(() => directory.SetLocalPasswordsAsync(localPasswords, User.UserId()), "Who may sign in with a password of this server has been updated.");

    public Task<IActionResult> OnPostAddMappingAsync(string? source, string? group, string? organizationId, string? role) =>
        SaveAsync(() => directory.AddMappingAsync(source, group, organizationId, role, User.UserId()), "The group mapping has been added; it applies at each member's next sign-in.");

    public Task<IActionResult> OnPostRemoveMappingAsync(long mappingId) =>
        SaveAsync(async () =>
        {
            if (!await directory.RemoveMappingAsync(mappingId, User.UserId())) throw new ServerSettingsException("That group mapping no longer exists.");
        }, "The group mapping has been removed. Places it gave stay until each person's next sign-in.");

    private async Task<IActionResult> SaveAsync(Func<Task> save, string done, Action? keepEntered = null)
    {
        try
        {
            await save();
            TempData["Info"] = done;
            return RedirectToPage();
        }
        catch (ServerSettingsException e)
        {
            await LoadAsync();
            keepEntered?.Invoke();
            return Refuse(e.Message);
        }
    }

    private async Task LoadAsync()
    {
        var state = await directory.GetAsync();
        (Ldap, Oidc, LocalPasswords) = (state.LdapRow, state.OidcRow, state.LocalPasswords);
        Mappings = await directory.MappingsAsync();
        Organizations = await settings.OrganizationsAsync();
        History = (await audit.ServerHistoryAsync("server.")).Where(e => e.Action is "server.directory_updated" or "server.sso_updated" or "server.local_passwords"
            or "server.group_mapping_added" or "server.group_mapping_removed").ToList();
    }

    private PageResult Refuse(string message)
    {
        Error = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
