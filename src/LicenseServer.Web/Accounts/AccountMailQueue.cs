using System.Threading.Channels;

namespace LicenseServer.Web.Accounts;

/// <summary>Mail about a person's own account, sent in the background through the server's mail server.</summary>
public abstract record AccountMail;

/// <summary>Someone asked for a reset link for this email on the Forgot password page.</summary>
public sealed record ResetLinkRequested(string Email) : AccountMail;

/// <summary>A user's password was changed (from the profile or with a reset link): they are told, in case it was not them.</summary>
public sealed record PasswordChanged(long UserId) : AccountMail;

/// <summary>
/// Account mail in the background. The forgot-password page only queues the email and answers at once, the
/// same for every email: looking the account up, making the link and mailing it (only for a known email, and
/// a mail server can take seconds) happen here, so that the answer's timing does not tell whether the email
/// exists. A password change does not wait for the mail server either. A request lost in a crash costs the
/// user one more click on the form, or one notice.
/// </summary>
public sealed class AccountMailQueue(PasswordResetService resets, ILogger<AccountMailQueue> logger) : BackgroundService
{
    /// <summary>Mails waiting at most; past it (a flood) new ones are dropped, and the pages still say the same.</summary>
    public const int Capacity = 1000;

    /// <summary>Mails handled at once, so that a mail server timing out (15 s) holds up no one else's link for long.</summary>
    public const int Workers = 4;

    private readonly Channel<AccountMail> _mails = Channel.CreateBounded<AccountMail>(new BoundedChannelOptions(Capacity));

    public void RequestResetLink(string? email)
    {
        var normalized = AccountService.NormalizeEmail(email);
        // No account has a longer email (or none at all): nothing to send, and nothing to hold in memory.
        if (!AccountService.IsEmail(normalized)) return;
        Enqueue(new ResetLinkRequested(normalized));
    }

    public void PasswordChanged(long userId) => Enqueue(new PasswordChanged(userId));

    private void Enqueue(AccountMail mail)
    {
        if (!_mails.Writer.TryWrite(mail))
            logger.LogWarning("More than {Capacity} account mails are waiting; a {Kind} was dropped", Capacity, mail.GetType().Name);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var mail in _mails.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await (mail switch
                    {
                        ResetLinkRequested reset => resets.RequestAsync(reset.Email),
                        PasswordChanged changed => resets.NotifyPasswordChangedAsync(changed.UserId),
                        _ => Task.CompletedTask,
                    });
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("A {Kind} mail could not be handled: {Error}", mail.GetType().Name, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
