using LicenseServer.Core.Plugins;
using LicenseServer.Data.Plugins;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>
/// The server's offline plugin packages (from the vendor's store), which every organization's clients see:
/// only a server admin uploads or deletes them.
/// </summary>
public sealed class AdminPluginsModel(PluginStore store, KitOptions options) : PageModel
{
    public IReadOnlyList<PluginRow> Plugins { get; private set; } = [];
    public string? Query { get; private set; }
    public int MaxMegabytes => options.Plugins.MaxUploadMegabytes;
    public string? Error { get; private set; }
    public string? Info { get; private set; }
    public Confirmation? Confirm { get; private set; }

    public async Task OnGetAsync(string? q)
    {
        Info = TempData["Info"] as string;
        Query = q is { Length: > 100 } ? q[..100] : q;
        Plugins = await store.ListAsync(null, Query);
    }

    public async Task<IActionResult> OnPostUploadAsync(IFormFile? package, CancellationToken cancel)
    {
        try
        {
            if (package is null || package.Length == 0) throw new PluginRejectedException("no_file", "Choose the plugin package (.zip) to upload.");
            await using var stream = package.OpenReadStream();
            var row = await store.StoreAsync(null, stream, PluginUploads.MaxBytes(options), User.UserId(), cancel);
            TempData["Info"] = $"{row.Name} {row.Version} has been uploaded for every organization.";
            return RedirectToPage();
        }
        catch (PluginRejectedException e)
        {
            return await RefuseAsync(e.Message);
        }
    }

    public async Task<IActionResult> OnPostDeleteAsync(long id, bool confirmed)
    {
        if (!confirmed)
        {
            Plugins = await store.ListAsync(null, null);
            if (PluginDeletion.Ask(Plugins, id) is not { } confirmation) return await RefuseAsync("That offline plugin version does not exist.");
            Confirm = confirmation with { CancelUrl = "/Admin/Plugins" };
            return Page();
        }
        if (!await store.DeleteAsync(null, id, User.UserId())) return await RefuseAsync("That offline plugin version does not exist.");
        TempData["Info"] = "The offline plugin version has been deleted.";
        return RedirectToPage();
    }

    private async Task<IActionResult> RefuseAsync(string message)
    {
        Error = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        Plugins = await store.ListAsync(null, null);
        return Page();
    }
}
