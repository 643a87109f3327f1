using LicenseServer.Core.Security;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Mail;
using LicenseServer.Web.Organizations;

namespace LicenseServer.Web.Accounts;

/// <summary>
/// U3: forgot password. The answer is the same whether or not the email exists; the link is single-use,
/// expires after an hour, and using it ends the user's sessions.
/// </summary>
public sealed class PasswordResetService(UserAccountRepository accounts, PasswordResetRepository resets, MailService mail, Links links,
    TimeProvider clock, ILogger<PasswordResetService> logger)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(60);

    public async Task RequestAsync(string? email)
    {
        var account = await accounts.FindByEmailAsync(AccountService.NormalizeEmail(email));
        if (account is null || account.Disabled) return;
        var settings = await mail.ForUserAsync(account.Id);
        if (settings is null) return;
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

    /// <summary>Null when the password was reset; otherwise why not.</summary>
    public async Task<string?> ResetAsync(string? token, string? password, string? confirmation)
    {
        if (await CheckLinkAsync(token) is { } problem) return problem;
        AccountService.CheckNewPassword(password ?? "", confirmation ?? "");
        return await resets.UseAsync(SecretToken.Hash(token!), AccountService.Hash(password!), clock.GetUtcNow()) switch
        {
            ResetOutcome.Done => null,
            ResetOutcome.Used => Used,
            ResetOutcome.Expired => Expired,
            _ => Invalid,
        };
    }

    public const string Used = "This link has been used to reset password.";
    public const string Expired = "This password reset link has expired. Ask for a new one.";
    public const string Invalid = "This password reset link is not valid. Check that you copied the whole link, or ask for a new one.";
}
