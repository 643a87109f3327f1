using LicenseServer.Data.Organizations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Admin;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>
/// Every user on the server, with search and paging; disable or enable, send a reset link, set a one-time password,
/// delete. /Admin is for the server admin only.
/// </summary>
public sealed class AdminUsersModel(UserAdminService users, ImpactRepository impact, PasswordResetService resets) : PageModel
{
    public UserPage Result { get; private set; } = null!;
    public string PagePrefix => $"/Admin/Users?q={Uri.EscapeDataString(Result.Query)}&s={Uri.EscapeDataString(Result.Sort)}&p=";

    /// <summary>A column header's link: sorted by it ascending, or descending when it already is; the search kept, back to page 1.</summary>
    public string SortLink(string column) => $"/Admin/Users?q={Uri.EscapeDataString(Result.Query)}&s={(Result.Sort == column ? "-" + column : column)}";

    public string? AriaSort(string column) => Result.Sort == column ? "ascending" : Result.Sort == "-" + column ? "descending" : null;
    public string? Error { get; private set; }
    public string? Info { get; private set; }
    public Confirmation? Confirm { get; private set; }

    /// <summary>A one-time password just set, shown once.</summary>
    public (string Email, string Password)? OneTime { get; private set; }

    public async Task OnGetAsync(string? q, int p = 1, string? s = null)
    {
        Info = TempData["Info"] as string;
        Result = await users.SearchAsync(q, p, s);
    }

    public async Task<IActionResult> OnPostDisableAsync(long userId, bool confirmed, string? q, int p = 1)
    {
        if (confirmed) return await SetAsync(userId, true, q, p);
        if (await impact.UserAsync(userId) is var (email, organizations))
            Confirm = new Confirmation($"Disable {email}?",
                $"They can no longer sign in to the console or the client API, and their signed-in sessions end now; they are a member of " +
                $"{Confirmation.Count(organizations, "organization", "organizations")}, whose licenses they keep until an admin recalls them.",
                "Disable", "Disable", new Dictionary<string, string> { ["userId"] = $"{userId}", ["q"] = q ?? "", ["p"] = $"{p}" })
            { CancelUrl = $"/Admin/Users?q={Uri.EscapeDataString(q ?? "")}&p={p}" };
        else
        {
            Error = "That user does not exist.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        Result = await users.SearchAsync(q, p);
        return Page();
    }

    public async Task<IActionResult> OnPostResetLinkAsync(long userId, string? q, int p = 1)
    {
        var problem = await resets.SendForAdminAsync(userId);
        if (problem is null && await impact.UserAsync(userId) is var (email, _))
        {
            await users.RecordResetLinkAsync(User.UserId(), email);
            TempData["Info"] = $"A password reset link has been mailed to {email}; it works once, within {PasswordResetService.Lifetime.TotalMinutes:0} minutes.";
            return Redirect($"/Admin/Users?q={Uri.EscapeDataString(q ?? "")}&p={p}");
        }
        return await RefuseAsync(problem ?? "That user does not exist.", q, p);
    }

    public async Task<IActionResult> OnPostOneTimePasswordAsync(long userId, bool confirmed, string? q, int p = 1)
    {
        if (!confirmed)
        {
            if (await impact.UserAsync(userId) is not var (email, _)) return await RefuseAsync("That user does not exist.", q, p);
            Confirm = new Confirmation($"Set a one-time password for {email}?",
                "Their current password stops working, their signed-in sessions and client tokens end now, and they must choose a new password at " +
                "their next sign-in. The one-time password is shown to you once: give it to them in person or by phone.",
                "OneTimePassword", "Set one-time password", new Dictionary<string, string> { ["userId"] = $"{userId}", ["q"] = q ?? "", ["p"] = $"{p}" })
            { CancelUrl = $"/Admin/Users?q={Uri.EscapeDataString(q ?? "")}&p={p}" };
        }
        else if (await users.SetOneTimePasswordAsync(User.UserId(), userId) is { } set)
        {
            OneTime = set;
            Response.Headers.CacheControl = "no-store";
        }
        else return await RefuseAsync("That user does not exist.", q, p);
        Result = await users.SearchAsync(q, p);
        return Page();
    }

    private async Task<IActionResult> RefuseAsync(string problem, string? q, int p)
    {
        Error = problem;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        Result = await users.SearchAsync(q, p);
        return Page();
    }

    public Task<IActionResult> OnPostEnableAsync(long userId, string? q, int p = 1) => SetAsync(userId, false, q, p);

    public async Task<IActionResult> OnPostDeleteAsync(long userId, bool confirmed, string? q, int p = 1)
    {
        if (confirmed)
        {
            if (await users.DeleteAsync(User.UserId(), userId) is { } problem) return await RefuseAsync(problem, q, p);
            TempData["Info"] = "The user has been deleted: removed from their organizations, their licenses recalled, their sessions ended.";
            return Redirect($"/Admin/Users?q={Uri.EscapeDataString(q ?? "")}&p={p}");
        }
        if (await impact.UserDeletionAsync(userId) is not { } m) return await RefuseAsync("That user does not exist.", q, p);
        Confirm = new Confirmation($"Delete {m.Email}?",
            $"Removes them from {Confirmation.Count(m.Organizations, "organization", "organizations")} by the rules of removing a member: recalls " +
            $"{Confirmation.Count(m.Licenses, "license", "licenses")}, deactivates {Confirmation.Count(m.Machines, "machine", "machines")}, ends " +
            $"{Confirmation.Count(m.Sessions, "session", "sessions")} and revokes {Confirmation.Count(m.ApiKeys, "API key", "API keys")}. The account cannot " +
            "sign in again and its email is free for a new account; the audit keeps the email.",
            "Delete", "Delete user", new Dictionary<string, string> { ["userId"] = $"{userId}", ["q"] = q ?? "", ["p"] = $"{p}" })
        { CancelUrl = $"/Admin/Users?q={Uri.EscapeDataString(q ?? "")}&p={p}" };
        Result = await users.SearchAsync(q, p);
        return Page();
    }

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
