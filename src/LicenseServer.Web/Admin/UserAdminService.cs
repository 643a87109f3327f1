using LicenseServer.Data.Accounts;

namespace LicenseServer.Web.Admin;

public sealed record UserPage(IReadOnlyList<UserListRow> Rows, long Total, int Page, int PageSize, string Query)
{
    public int Pages => (int)Math.Max(1, (Total + PageSize - 1) / PageSize);
}

/// <summary>The server admin lists all users, searches, pages, and disables or enables one.</summary>
public sealed class UserAdminService(UserAdminRepository users)
{
    public const int PageSize = 25;

    public async Task<UserPage> SearchAsync(string? query, int page)
    {
        query = (query ?? "").Trim();
        if (query.Length > 254) query = query[..254];
        page = Math.Clamp(page, 1, 100_000);
        var (rows, total) = await users.SearchAsync(query, page, PageSize);
        return new UserPage(rows, total, page, PageSize, query);
    }

    /// <summary>Null when done; otherwise why not.</summary>
    public async Task<string?> SetDisabledAsync(long actor, long userId, bool disabled)
    {
        if (userId == actor && disabled) return "You cannot disable your own account.";
        return await users.SetDisabledAsync(userId, disabled, actor) ? null : "That user does not exist.";
    }
}
