using LicenseServer.Core.Security;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Mail;
using LicenseServer.Web.Organizations;

namespace LicenseServer.Web.Accounts;

/// <summary>
/// Forgot password, and the notice of a changed password: mail about a person's account, sent only through
/// the server's own mail server (never an organization's, whose Admins could read it). The answer is the same
/// whether or not the email exists; the link is single-use, expires after an hour, and using it ends the
/// user's sessions.
/// </summary>
public sealed class PasswordResetService(UserAccountRepository accounts, PasswordResetRepository resets, MailService mail, Links links,
    TimeProvider clock, ILogger<PasswordResetService> logger)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(60);

    public async Task RequestAsync(string? email)
    {
        var account = await accounts.FindByEmailAsync(AccountService.NormalizeEmail(email));
        // A directory account signs in through the directory: a password of this server would never be asked for.
        if (account is null || account.Disabled || account.DirectoryLinked) return;
        var settings = await mail.ServerAsync();
        if (settings is null) return;
        await SendLinkAsync(account, settings);
    }

    /// <summary>
    /// The server admin sends a user a reset link, through the server's mail server; null when it went out,
    /// otherwise a sentence saying why not (no such user, a disabled one, no mail server, the mail server's error).
    /// </summary>
    public async Task<string?> SendForAdminAsync(long userId)
    {
        var account = await accounts.FindByIdAsync(userId);
        if (account is null) return "That user does not exist.";
        if (account.Disabled) return $"{account.Email} is disabled: enable the account first.";
        if (account.DirectoryLinked) return $"{account.Email} signs in through the company directory or single sign-on: a password of this server would not be used.";
        if (await mail.ServerAsync() is not { } settings)
            return "The server has no mail server: set one under Server settings, or set a one-time password instead.";
        return await SendLinkAsync(account, settings);
    }

    private async Task<string?> SendLinkAsync(UserAccountRow account, MailSettings settings)
    {
        var token = SecretToken.New();
        var now = clock.GetUtcNow();
        await resets.CreateAsync(account.Id, SecretToken.Hash(token), now, now + Lifetime);
        try
        {
            await mail.SendAsync(settings, account.Email, "Reset your Kit License Server password",
                $"""
                Hello,

                Someone asked to reset the password of {account.Email} on Kit License Server.
                To choose a new password, open this link within {Lifetime.TotalMinutes:0} minutes (it works once):

                {links.PasswordReset(token)}

                If you did not ask for this, ignore this email: your password stays as it is.
                """);
        }
        catch (MailFailedException e)
        {
            logger.LogWarning("A password reset mail for user {UserId} could not be sent: {Error}", account.Id, e.Message);
            return $"The reset link could not be mailed to {account.Email}: {e.Message}";
        }
        return null;
    }

    /// <summary>Tells the user their password was changed, where the server has a mail server.</summary>
    public async Task NotifyPasswordChangedAsync(long userId)
    {
        var account = await accounts.FindByIdAsync(userId);
        if (account is null || await mail.ServerAsync() is not { } settings) return;
        try
        {
            await mail.SendAsync(settings, account.Email, "Your Kit License Server password was changed",
                $"""
                Hello,

                The password of {account.Email} on Kit License Server was changed at {clock.GetUtcNow():yyyy-MM-dd HH:mm} UTC,
                and every other session of the account has ended.

                If this was not you, ask for a new password at once with Forgot password on the sign-in page
                ({links.ForgotPassword()}), and tell your administrator.
                """);
        }
        catch (MailFailedException e)
        {
            logger.LogWarning("The password change notice for user {UserId} could not be sent: {Error}", userId, e.Message);
        }
    }

    public async Task<string?> CheckLinkAsync(string? token)
    {
        if (!SecretToken.LooksValid(token)) return Invalid;
        var row = await resets.FindAsync(SecretToken.Hash(token!));
        return row is null ? Invalid
            : row.UsedAt is not null ? Used
            : row.ExpiresAt <= clock.GetUtcNow().UtcDateTime ? Expired
            : null;
    }

    /// <summary>The reset's outcome: the user whose password was reset, or why not.</summary>
    public sealed record ResetResult(long? UserId, string? Problem);

    public async Task<ResetResult> ResetAsync(string? token, string? password, string? confirmation)
    {
        if (await CheckLinkAsync(token) is { } problem) return new ResetResult(null, problem);
        AccountService.CheckNewPassword(password ?? "", confirmation ?? "");
        var (outcome, userId) = await resets.UseAsync(SecretToken.Hash(token!), AccountService.Hash(password!), clock.GetUtcNow());
        return outcome switch
        {
            ResetOutcome.Done => new ResetResult(userId, null),
            ResetOutcome.Used => new ResetResult(null, Used),
            ResetOutcome.Expired => new ResetResult(null, Expired),
            _ => new ResetResult(null, Invalid),
        };
    }

    public const string Used = "This link has been used to reset password.";
    public const string Expired = "This password reset link has expired. Ask for a new one.";
    public const string Invalid = "This password reset link is not valid. Check that you copied the whole link, or ask for a new one.";
}
