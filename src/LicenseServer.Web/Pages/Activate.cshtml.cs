using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.Data.Audit;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages;

/// <summary>Open to anyone until the server is activated; afterwards to the server admin only.</summary>
[RequestSizeLimit(ActivationService.MaxLicenseFileBytes + 64 * 1024)]
public sealed class ActivateModel(ActivationService activation, AccountService accounts, AuditRepository audit) : PageModel
{
    public InstallationIdentity Identity { get; private set; } = null!;
    public ActivationState? State { get; private set; }
    public IReadOnlyList<AuditRow> History { get; private set; } = [];
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (await DenyAsync() is { } denied) return denied;
        Info = TempData["Info"] as string;
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnGetRequestAsync(string? companyId)
    {
        if (await DenyAsync() is { } denied) return denied;
        if (companyId is { Length: > 100 }) companyId = companyId[..100];
        var request = await activation.CreateRequestAsync(companyId);
        return File(Encoding.UTF8.GetBytes(request.ToText()), "application/json", "kit-license-request.json");
    }

    public async Task<IActionResult> OnPostAsync(IFormFile? licenseFile)
    {
        if (await DenyAsync() is { } denied) return denied;
        if (licenseFile is null || licenseFile.Length == 0)
        {
            Error = "Choose the license file (.lic) you received from your vendor.";
        }
        else
        {
            using var buffer = new MemoryStream();
            await licenseFile.OpenReadStream().CopyToAsync(buffer);
            try
            {
                var payload = await activation.ActivateAsync(buffer.ToArray(), User.Identity?.IsAuthenticated == true ? User.UserId() : null);
                if (!await accounts.DefaultAccountExistsAsync()) return RedirectToPage("/Setup");
                TempData["Info"] = $"The license for {payload.Customer} is active.";
                return RedirectToPage("/Index");
            }
            catch (LicenseRejectedException e)
            {
                Error = e.Message;
                Response.Headers["X-Kit-Error"] = e.Code;
            }
        }
        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    /// <summary>Back to the un-licensed state; everything else is kept for the next upload.</summary>
    public async Task<IActionResult> OnPostDeleteAsync(string? confirm)
    {
        if (await DenyAsync() is { } denied) return denied;
        if (User.Identity?.IsAuthenticated != true) return Challenge();
        if (confirm != "yes")
        {
            Error = "Tick the box to confirm that clients will be refused until a license is uploaded again.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadAsync();
            return Page();
        }
        TempData["Info"] = await activation.DeleteAsync(User.UserId())
            ? "The license has been deleted. Organizations, shares and assignments are kept: upload a license file to use them again."
            : "There was no license to delete.";
        return RedirectToPage();
    }

    private async Task LoadAsync()
    {
        Identity = await activation.EnsureIdentityAsync();
        State = await activation.GetStateAsync();
        if (User.IsInRole(KitClaims.ServerAdminRole)) History = await audit.ServerLicenseHistoryAsync();
    }

    /// <summary>
    /// Once the default account exists, only a signed-in server admin may see or change the license,
    /// also after the license was deleted. Before that, the first activation is open.
    /// </summary>
    private async Task<IActionResult?> DenyAsync()
    {
        var (_, defaultAccount) = await activation.SetupStateAsync();
        if (!defaultAccount) return null;
        if (User.Identity?.IsAuthenticated != true) return Challenge();
        return User.IsInRole(KitClaims.ServerAdminRole) ? null : Forbid();
    }
}
