using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>A member's own API keys: create (shown once), list with prefix and last use, revoke.</summary>
public sealed class ApiKeysModel(LicenseService licenses) : OrganizationPageModel
{
    public IReadOnlyList<ApiKeyRow> Keys { get; private set; } = [];
    public string? NewKey { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        Keys = await licenses.ApiKeysAsync(Membership);
    }

    [Requires(OrgPermission.UseApiKeys)]
    public async Task<IActionResult> OnPostCreateAsync(string? name)
    {
        try
        {
            NewKey = await licenses.CreateApiKeyAsync(Membership, name);
            Info = "The API key has been created.";
            Response.Headers.CacheControl = "no-store";
        }
        catch (LicenseRuleException e)
        {
            Refuse(e.Message);
        }
        Keys = await licenses.ApiKeysAsync(Membership);
        return Page();
    }

    [Requires(OrgPermission.UseApiKeys)]
    public async Task<IActionResult> OnPostRevokeAsync(long keyId)
    {
        try
        {
            await licenses.RevokeApiKeyAsync(Membership, keyId);
            TempData["Info"] = "The API key has been revoked.";
            return Redirect($"/Organizations/{Membership.OrganizationId}/ApiKeys");
        }
        catch (LicenseRuleException e)
        {
            Refuse(e.Message);
            Keys = await licenses.ApiKeysAsync(Membership);
            return Page();
        }
    }
}
