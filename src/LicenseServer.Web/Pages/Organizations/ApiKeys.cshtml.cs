using LicenseServer.Core.Licenses;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>A member's own API keys: create (shown once), list with prefix and last use, revoke.</summary>
public sealed class ApiKeysModel(LicenseService licenses, ImpactRepository impact) : OrganizationPageModel
{
    public IReadOnlyList<ApiKeyRow> Keys { get; private set; } = [];
    public ListView KeyList => field ??= new(Request, "keys", "API keys");
    public string? NewKey { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        Keys = KeyList.Showing(await licenses.ApiKeysAsync(Membership, KeyList.Query)).Rows;
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
        Keys = KeyList.Showing(await licenses.ApiKeysAsync(Membership, KeyList.Query)).Rows;
        return Page();
    }

    [Requires(OrgPermission.UseApiKeys)]
    public async Task<IActionResult> OnPostRevokeAsync(long keyId, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(await impact.ApiKeyAsync(Membership.OrganizationId, Membership.UserId, keyId) is var (name, prefix)
                ? new Confirmation($"Revoke the API key {name} (kit_{prefix}_…)?",
                    "Every client that uses it is refused from now on (401); its floating sessions can no longer heartbeat and end with their leases. This cannot be undone.",
                    "Revoke", "Revoke", new Dictionary<string, string> { ["keyId"] = $"{keyId}" })
                : null, "That API key does not exist or has been revoked already.", async () =>
            {
                Keys = KeyList.Showing(await licenses.ApiKeysAsync(Membership, KeyList.Query)).Rows;
                return true;
            });
        try
        {
            await licenses.RevokeApiKeyAsync(Membership, keyId);
            TempData["Info"] = "The API key has been revoked.";
            return Redirect($"/Organizations/{Membership.OrganizationId}/ApiKeys");
        }
        catch (LicenseRuleException e)
        {
            Refuse(e.Message);
            Keys = KeyList.Showing(await licenses.ApiKeysAsync(Membership, KeyList.Query)).Rows;
            return Page();
        }
    }
}
