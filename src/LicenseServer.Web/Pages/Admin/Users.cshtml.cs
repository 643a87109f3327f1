using LicenseServer.Data.Organizations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Admin;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace LicenseServer.Web.Pages.Admin;

/// <summary>
/// Every user on the server, with search, sort and paging; disable or enable, send a reset link, set a one-time
/// password, delete. Each action returns to the list as it was (q, s and p travel with its form). /Admin is for the
/// server admin only.
/// </summary>
public sealed class AdminUsersModel(UserAdminService users, ImpactRepository impact, PasswordResetService resets) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "q")] public string? Search { get; set; }
    [BindProperty(SupportsGet = true, Name = "s")] public string? Sort { get; set; }
    [BindProperty(SupportsGet = true, Name = "p")] public int PageNumber { get; set; } = 1;

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

    /// <summary>The list as the action's form found it: where the action returns, and Cancel leads.</summary>
    private string ListUrl => $"/Admin/Users?q={Uri.EscapeDataString(Search ?? "")}&s={Uri.EscapeDataString(Sort ?? "")}&p={PageNumber}";

    public async Task OnGetAsync()
    {
        Info = TempData["Info"] as string;
        await LoadAsync();
    }

    public async Task<IActionResult> OnPostDisableAsync(long userId, bool confirmed)
    {
        if (confirmed) return await SetAsync(userId, true);
        if (await impact.UserAsync(userId) is not var (email, organizations)) return await RefuseAsync("That user does not exist.");
        Confirm = Ask($"Disable {email}?",
            $"They can no longer sign in to the console or the client API, and their signed-in sessions end now; they are a member of " +
            $"{Confirmation.Count(organizations, "organization", "organizations")}, whose licenses they keep until an admin recalls them.",
            "Disable", "Disable", userId);
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostResetLinkAsync(long userId)
    {
        var problem = await resets.SendForAdminAsync(userId);
        if (problem is null && await impact.UserAsync(userId) is var (email, _))
        {
            await users.RecordResetLinkAsync(User.UserId(), email);
            TempData["Info"] = $"A password reset link has been mailed to {email}; it works once, within {PasswordResetService.Lifetime.TotalMinutes:0} minutes.";
            return Redirect(ListUrl);
        }
        return await RefuseAsync(problem ?? "That user does not exist.");
    }

    public async Task<IActionResult> OnPostOneTimePasswordAsync(long userId, bool confirmed)
    {
        if (!confirmed)
        {
            if (await impact.UserAsync(userId) is not var (email, _)) return await RefuseAsync("That user does not exist.");
            Confirm = Ask($"Set a one-time password for {email}?",
                "Their current password stops working, their signed-in sessions and client tokens end now, and they must choose a new password at " +
                "their next sign-in. The one-time password is shown to you once: give it to them in person or by phone.",
                "OneTimePassword", "Set one-time password", userId);
        }
        else if (await users.SetOneTimePasswordAsync(User.UserId(), userId) is { } set)
        {
            OneTime = set;
            Response.Headers.CacheControl = "no-store";
        }
        else return await RefuseAsync("That user does not exist.");
        await LoadAsync();
        return Page();
    }

    public Task<IActionResult> OnPostEnableAsync(long userId) => SetAsync(userId, false);

    public async Task<IActionResult> OnPostDeleteAsync(long userId, bool confirmed)
    {
        if (confirmed)
        {
            if (await users.DeleteAsync(User.UserId(), userId) is { } problem) return await RefuseAsync(problem);
            TempData["Info"] = "The user has been deleted: removed from their organizations, their licenses recalled, their sessions ended.";
            return Redirect(ListUrl);
        }
        if (await impact.UserDeletionAsync(userId) is not { } m) return await RefuseAsync("That user does not exist.");
        Confirm = Ask($"Delete {m.Email}?",
            $"Removes them from {Confirmation.Count(m.Organizations, "organization", "organizations")} by the rules of removing a member: recalls " +
            $"{Confirmation.Count(m.Licenses, "license", "licenses")}, deactivates {Confirmation.Count(m.Machines, "machine", "machines")}, ends " +
            $"{Confirmation.Count(m.Sessions, "session", "sessions")} and revokes {Confirmation.Count(m.ApiKeys, "API key", "API keys")}. The account cannot " +
            "sign in again and its email is free for a new account; the audit keeps the email.",
            "Delete", "Delete user", userId);
        await LoadAsync();
        return Page();
    }

    private async Task<IActionResult> SetAsync(long userId, bool disabled)
    {
        if (await users.SetDisabledAsync(User.UserId(), userId, disabled) is { } problem) return await RefuseAsync(problem);
        TempData["Info"] = disabled ? "The user has been disabled: they cannot sign in, and their sessions have ended." : "The user has been enabled.";
        return Redirect(ListUrl);
    }

    /// <summary>The confirmation of an action on one user, posting the list's state along so that it returns to it.</summary>
    private Confirmation Ask(string question, string consequences, string handler, string button, long userId) =>
        new(question, consequences, handler, button, new Dictionary<string, string>
        {
            ["userId"] = $"{userId}", ["q"] = Search ?? "", ["s"] = Sort ?? "", ["p"] = $"{PageNumber}",
        }) { CancelUrl = ListUrl };

    private async Task<IActionResult> RefuseAsync(string problem)
    {
        Error = problem;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync() => Result = await users.SearchAsync(Search, PageNumber, Sort);
}
