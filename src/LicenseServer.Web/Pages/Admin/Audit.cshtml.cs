using LicenseServer.Data.Audit;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>The server's own audit log (no organization's): sign-ins that succeeded or failed with their address, users disabled or enabled, server settings, the license; filters and CSV.</summary>
public sealed class AdminAuditModel(AuditRepository audit) : PageModel
{
    public static readonly (string Value, string Label)[] Actions =
    [
        ("", "Everything"), ("account.", "Sign-ins"), ("user.", "Users"), ("server.", "Server settings"), ("license.", "License and churn limits"), ("plugin.", "Offline plugins"),
    ];

    public AuditSearch Search => field ??= new(Request, "/Admin/Audit", Actions);

    public async Task OnGetAsync()
    {
        if (Search.Error is not null) Response.StatusCode = StatusCodes.Status400BadRequest;
        await Search.LoadAsync(audit, null);
    }

    public async Task<IActionResult> OnGetCsvAsync()
    {
        if (Search.Filter is null)
        {
            await OnGetAsync();
            return Page();
        }
        return File(await Search.CsvAsync(audit, null), "text/csv; charset=utf-8", $"audit-server-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv");
    }
}
