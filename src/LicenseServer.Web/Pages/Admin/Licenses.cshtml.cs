using LicenseServer.Core.Licenses;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Licenses;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>L2: the server admin splits each product's quota among organizations.</summary>
public sealed class AdminLicensesModel(LicenseService licenses) : PageModel
{
    public IReadOnlyList<AllocationRow> Rows { get; private set; } = [];
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        Rows = await licenses.AllocationsAsync();
    }

    public async Task<IActionResult> OnPostAsync(long organizationId, string? product, string? quota)
    {
        try
        {
            await licenses.SetAllocationAsync(User.UserId(), organizationId, product ?? "", quota);
            TempData["Info"] = $"The {product} share has been saved.";
            return RedirectToPage();
        }
        catch (LicenseRuleException e)
        {
            Error = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            Rows = await licenses.AllocationsAsync();
            return Page();
        }
    }
}
