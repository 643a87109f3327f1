using LicenseServer.Web.Accounts;
using LicenseServer.Web.Admin;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>Every user on the server, with search and paging; disable or enable. /Admin is for the server admin only.</summary>
public sealed class AdminUsersModel(UserAdminService users) : PageModel
{
    public UserPage Result { get; private set; } = null!;
    public string PagePrefix => $"/Admin/Users?q={Uri.EscapeDataString(Result.Query)}&p=";
    public string? Error { get; private set; }
    public string? Info { get; private set; }

    public async Task OnGetAsync(string? q, int p = 1)
    {
        Info = TempData["Info"] as string;
        Result = await users.SearchAsync(q, p);
    }

    public Task<IActionResult> OnPostDisableAsync(long userId, string? q, int p = 1) => SetAsync(userId, true, q, p);

    public Task<IActionResult> OnPostEnableAsync(long userId, string? q, int p = 1) => SetAsync(userId, false, q, p);

    private async Task<IActionResult> SetAsync(long userId, bool disabled, string? q, int p)
    {
        var problem = await users.SetDisabledAsync(User.UserId(), userId, disabled);
        if (problem is null)
        {
            TempData["Info"] = disabled ? "The user has been disabled: they cannot sign in, and their sessions have ended." : "The user has been enabled.";
            return Redirect($"/Admin/Users?q={Uri.EscapeDataString(q ?? "")}&p={p}");
        }
        Error = problem;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        Result = await users.SearchAsync(q, p);
        return Page();
    }
}
