using LicenseServer.Core.Activation;
using LicenseServer.Data.Activation;
using LicenseServer.Web.Mail;

namespace LicenseServer.Web.Activation;

/// <summary>
/// Mails the server admins when the license or a product comes within 30, 7 and 1 days of its end,
/// once per step, checked hourly. Each warning is claimed in the database before it is sent, so several
/// nodes send it once; a warning whose mail failed is given back and tried at the next check. The mail
/// goes through the server's own mail server; without one, the banner on the dashboard is the only warning.
/// </summary>
public sealed class ExpiryWatch(ActivationService activation, ServerLicenseRepository licenses, MailService mail, ILogger<ExpiryWatch> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try { await CheckAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogError(e, "The license expiry check failed; it runs again in an hour"); }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Sends the warnings that are due and not sent yet; returns how many mails went out.</summary>
    public async Task<int> CheckAsync(CancellationToken cancel = default)
    {
        var due = (await activation.ExpiryWarningsAsync()).Where(w => !w.Expired).ToList();
        if (due.Count == 0) return 0;
        if (await mail.ServerAsync() is not { } settings)
        {
            // Nothing is claimed: once a mail server is set, the next check sends what is due.
            logger.LogInformation("License expiry warnings are not mailed: the server has no mail server of its own (Server settings); the dashboard shows them");
            return 0;
        }
        var admins = await licenses.ServerAdminsAsync();
        var sent = 0;
        foreach (var warning in due)
        {
            var step = warning.Threshold!.Value;
            if (!await licenses.ClaimExpiryNoticeAsync(warning.Item.Subject, warning.Item.ExpiresAt, step)) continue;
            var delivered = 0;
            foreach (var (_, email) in admins)
            {
                try
                {
                    await mail.SendAsync(settings, email, $"Kit License Server: {warning.Item.Name} expires in {warning.DaysLeft} day{(warning.DaysLeft == 1 ? "" : "s")}",
                        warning.Message + "\n\nUpload the renewed license file on the server's License page (Activate). " +
                        "Organizations, shares and assignments are kept when a license is replaced.", cancel);
                    delivered++;
                }
                catch (MailFailedException e)
                {
                    logger.LogWarning("The expiry warning for {Subject} could not be mailed to a server admin: {Error}", warning.Item.Subject, e.Message);
                }
            }
            if (delivered == 0 && admins.Count > 0)
            {
                // Nobody got it: let the next check try again, e.g. once a mail server is configured.
                await licenses.ReleaseExpiryNoticeAsync(warning.Item.Subject, warning.Item.ExpiresAt, step);
                logger.LogWarning("{Subject} expires in {Days} day(s) and no server admin could be mailed; the dashboard shows the warning", warning.Item.Subject, warning.DaysLeft);
                continue;
            }
            logger.LogInformation("Mailed the {Step}-day expiry warning for {Subject} to {Count} server admin(s)", step, warning.Item.Subject, delivered);
            sent += delivered;
        }
        return sent;
    }
}
