using System.Threading.Channels;

namespace LicenseServer.Web.Accounts;

/// <summary>
/// U3 in the background: the forgot-password page only queues the email and answers at once, the same for
/// every email. Looking the account up, making the link and mailing it (only for a known email, and a mail
/// server can take seconds) happen here, so that the answer's timing does not tell whether the email exists.
/// A request lost in a crash costs the user one more click on the form.
/// </summary>
public sealed class PasswordResetQueue(PasswordResetService resets, ILogger<PasswordResetQueue> logger) : BackgroundService
{
    /// <summary>Requests waiting at most; past it (a flood) new ones are dropped, and the page still says the same.</summary>
    public const int Capacity = 1000;

    /// <summary>Requests handled at once, so that one organization's mail server timing out (15 s) holds up no one else's link.</summary>
    public const int Workers = 4;

    private readonly Channel<string> _emails = Channel.CreateBounded<string>(new BoundedChannelOptions(Capacity));

    public void Enqueue(string? email)
    {
        var normalized = AccountService.NormalizeEmail(email);
        // No account has a longer email (or none at all): nothing to send, and nothing to hold in memory.
        if (!AccountService.IsEmail(normalized)) return;
        if (!_emails.Writer.TryWrite(normalized))
            logger.LogWarning("More than {Capacity} password reset requests are waiting; one was dropped", Capacity);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var email in _emails.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await resets.RequestAsync(email);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("A password reset request could not be handled: {Error}", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
