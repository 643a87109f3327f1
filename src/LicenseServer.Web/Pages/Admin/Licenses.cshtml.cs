using LicenseServer.Core.Licenses;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Licenses;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>The server admin splits each product's quota among organizations, and sets churn limits per product.</summary>
public sealed class AdminLicensesModel(LicenseService licenses) : PageModel
{
    public IReadOnlyList<AllocationRow> Rows { get; private set; } = [];
    public IReadOnlyList<ChurnLimitRow> ChurnLimits { get; private set; } = [];
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    public Task<IActionResult> OnPostAsync(long organizationId, string? product, string? quota) => RunAsync(async () =>
    {
        await licenses.SetAllocationAsync(User.UserId(), organizationId, product ?? "", quota);
        return $"The {product} share has been saved.";
    });

    public Task<IActionResult> OnPostChurnLimitAsync(string? product, string? activations, string? days) => RunAsync(async () =>
    {
        await licenses.SetChurnLimitAsync(User.UserId(), product ?? "", activations, days);
        return $"The {product} churn limit has been saved.";
    });

    private async Task<IActionResult> RunAsync(Func<Task<string>> action)
    {
        try
        {
            TempData["Info"] = await action();
            return RedirectToPage();
        }
        catch (LicenseRuleException e)
        {
            Error = e.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadAsync();
            return Page();
        }
    }

    private async Task LoadAsync()
    {
        Rows = await licenses.AllocationsAsync();
        ChurnLimits = await licenses.ChurnLimitsAsync();
    }
}
