using LicenseServer.Core.Organizations;
using LicenseServer.Core.Plugins;
using LicenseServer.Data.Plugins;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>
/// The organization's private plugin packages: upload, list with search, delete a version; and, read only, the
/// server's offline packages that its clients also see (a server admin manages those under Offline plugins).
/// </summary>
public sealed class PluginsModel(PluginStore store, KitOptions options) : OrganizationPageModel
{
    public IReadOnlyList<PluginRow> Plugins { get; private set; } = [];
    public IReadOnlyList<PluginRow> Offline { get; private set; } = [];
    public string? Query { get; private set; }
    public int MaxMegabytes => options.Plugins.MaxUploadMegabytes;

    public async Task OnGetAsync(string? q)
    {
        Info = TempData["Info"] as string;
        Query = q is { Length: > 100 } ? q[..100] : q;
        await LoadAsync();
    }

    [Requires(OrgPermission.ManagePlugins)]
    public async Task<IActionResult> OnPostUploadAsync(IFormFile? package, CancellationToken cancel)
    {
        try
        {
            if (package is null || package.Length == 0) throw new PluginRejectedException("no_file", "Choose the plugin package (.zip) to upload.");
            await using var stream = package.OpenReadStream();
            var row = await store.StoreAsync(Membership.OrganizationId, stream, PluginUploads.MaxBytes(options), Membership.UserId, cancel);
            TempData["Info"] = $"{row.Name} {row.Version} has been uploaded.";
            return Redirect($"/Organizations/{Membership.OrganizationId}/Plugins");
        }
        catch (PluginRejectedException e)
        {
            Refuse(e.Message);
            await LoadAsync();
            return Page();
        }
    }

    [Requires(OrgPermission.ManagePlugins)]
    public async Task<IActionResult> OnPostDeleteAsync(long id, bool confirmed)
    {
        if (!confirmed)
            return await AskAsync(PluginDeletion.Ask(await store.ListAsync(Membership.OrganizationId, null), id),
                "That plugin version is not a private package of this organization.", async () =>
                {
                    await LoadAsync();
                    return true;
                });
        if (await store.DeleteAsync(Membership.OrganizationId, id, Membership.UserId))
        {
            TempData["Info"] = "The plugin version has been deleted.";
            return Redirect($"/Organizations/{Membership.OrganizationId}/Plugins");
        }
        Refuse("That plugin version is not a private package of this organization.");
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        Plugins = await store.ListAsync(Membership.OrganizationId, Query);
        Offline = await store.ListAsync(null, Query);
    }
}
