using LicenseServer.Data.Accounts;
using LicenseServer.Data.Audit;
using LicenseServer.Web.Accounts;

namespace LicenseServer.Web.Admin;

public sealed record UserPage(IReadOnlyList<UserListRow> Rows, long Total, int Page, int PageSize, string Query, string Sort = "email")
{
    public int Pages => (int)Math.Max(1, (Total + PageSize - 1) / PageSize);
}

/// <summary>The server admin lists all users, searches, pages, disables or enables one, sets a one-time password or deletes one.</summary>
public sealed class UserAdminService(UserAdminRepository users, AuditRepository audit)
{
    public const int PageSize = 25;

    public async Task<UserPage> SearchAsync(string? query, int page, string? sort = null)
    {
        sort = sort is { } s && UserAdminRepository.Sorts.ContainsKey(s.TrimStart('-')) ? s : "email";
        query = (query ?? "").Trim();
        if (query.Length > 254) query = query[..254];
        page = Math.Clamp(page, 1, 100_000);
        var (rows, total) = await users.SearchAsync(query, page, PageSize, sort);
        return new UserPage(rows, total, page, PageSize, query, sort);
    }

    /// <summary>
    /// Sets a new random password (20 characters, shown once to the server admin) that the user must change at
    /// their next sign-in; their sessions and client tokens end. Null when there is no such user.
    /// </summary>
    public async Task<(string Email, string Password)?> SetOneTimePasswordAsync(long actor, long userId)
    {
        var password = System.Security.Cryptography.RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);
        return await users.SetOneTimePasswordAsync(userId, AccountService.Hash(password), actor) is { } email ? (email, password) : null;
    }

    /// <summary>Records that the server admin sent a user a reset link (the link itself is never kept).</summary>
    public Task RecordResetLinkAsync(long actor, string email) => audit.RecordAsync(actor, "user.reset_link_sent", email);

    /// <summary>Deletes a user (see <see cref="UserAdminRepository.DeleteAsync"/>): null when done, else why not, in a sentence.</summary>
    public async Task<string?> DeleteAsync(long actor, long userId)
    {
        if (userId == actor) return "You cannot delete your own account.";
        return await users.DeleteAsync(userId, actor) switch
        {
            (UserDeletion.Deleted, _) => null,
            (UserDeletion.DefaultAccount, var email) => $"{email} is the default account, the server's own administrator: it cannot be deleted.",
            (UserDeletion.LastOwner, var organization) =>
                $"They are the only Owner of {organization}: make another member its Owner first. Nothing was deleted.",
            _ => "That user does not exist.",
        };
    }

    /// <summary>Null when done; otherwise why not.</summary>
    public async Task<string?> SetDisabledAsync(long actor, long userId, bool disabled)
    {
        if (userId == actor && disabled) return "You cannot disable your own account.";
        return await users.SetDisabledAsync(userId, disabled, actor) ? null : "That user does not exist.";
    }
}
