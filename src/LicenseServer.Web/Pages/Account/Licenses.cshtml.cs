using LicenseServer.Data.Licenses;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Account;

/// <summary>
/// My licenses, for every signed-in person: per organization and product, their licenses, their machines with
/// last seen and lease end, their floating sessions; and their own machine's deactivation (asked first), by the
/// same rules as an admin's.
/// </summary>
public sealed class LicensesModel(MyLicenseRepository mine, LicenseRepository licenses) : PageModel
{
    public MyLicenses Mine { get; private set; } = new([], [], []);
    public string? Error { get; private set; }
    public string? Info { get; private set; }
    public Confirmation? Confirm { get; private set; }

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        Mine = await mine.ForUserAsync(User.UserId());
    }

    public async Task<IActionResult> OnPostDeactivateAsync(long activationId, bool confirmed)
    {
        var machine = await mine.OwnMachineAsync(User.UserId(), activationId);
        if (machine is not { } m)
        {
            Error = "That machine is not one of your active machines.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        else if (!confirmed)
        {
            Confirm = new Confirmation($"Deactivate {m.MachineId} for {m.ProductCode}?",
                $"The machine stops renewing its lease. The lease it holds keeps working offline until {LicenseServer.Core.Activation.LicenseVerifier.Format(m.LeaseExpiresAt)}, " +
                "so it counts toward your machine limit until then; after that, another machine can take its place. You keep the license.",
                "Deactivate", "Deactivate", new Dictionary<string, string> { ["activationId"] = $"{activationId}" }) { CancelUrl = "/Account/Licenses" };
        }
        else if (await licenses.DeactivateMachineAsync(m.OrganizationId, m.ProductCode, activationId, User.UserId()))
        {
            TempData["Info"] = $"{m.MachineId} has been deactivated for {m.ProductCode}.";
            return Redirect("/Account/Licenses");
        }
        Mine = await mine.ForUserAsync(User.UserId());
        return Page();
    }
}
