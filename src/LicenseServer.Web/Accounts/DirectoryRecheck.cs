using LicenseServer.Core.Ldap;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Admin;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Accounts;

/// <summary>
/// Checks directory users against the directory again while they can act here (a token, an API key, a console session):
/// a person removed or disabled in the directory is disabled here within the recheck interval (at most 15 minutes),
/// which ends their sessions and tokens and stops their API keys. While the directory cannot be reached nothing is
/// disabled: an outage of the directory must not stop every client.
/// </summary>
public sealed class DirectoryRecheck(DirectorySettingsService settings, DirectoryAccountRepository accounts, KitOptions options, ILogger<DirectoryRecheck> logger)
    : BackgroundService
{
    /// <summary>A console session lives at most this long after its sign-in.</summary>
    private static readonly TimeSpan SessionLifetime = AuthenticationSetup.AbsoluteTimeout;
    private const int Batch = 200;

    public TimeSpan Interval => TimeSpan.FromSeconds(Math.Clamp(options.Directory.RecheckSeconds, 1, 900));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Several checks per interval, so an account is checked within an interval of falling due.
        var tick = TimeSpan.FromSeconds(Math.Clamp(Interval.TotalSeconds / 4, 1, 60));
        using var timer = new PeriodicTimer(tick);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Checking directory accounts failed; trying again in {Seconds} s", tick.TotalSeconds);
            }
        }
    }

    /// <summary>One pass over the accounts due; the number disabled.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancel = default)
    {
        var config = (await settings.GetAsync()).Ldap;
        if (config is null) return 0;
        var disabled = 0;
        foreach (var account in await accounts.DueForCheckAsync(Interval, SessionLifetime, Batch))
        {
            var (check, problem) = await LdapDirectory.CheckAsync(config, account.ExternalId, cancel);
            switch (check)
            {
                case LdapCheck.Active:
                    await accounts.MarkCheckedAsync(account.Id);
                    break;
                case LdapCheck.Unavailable:
                    logger.LogWarning("Directory accounts cannot be checked: {Problem}", problem);
                    return disabled;
                default:
                    var why = check == LdapCheck.Gone ? "the entry is no longer in the directory" : "the entry is disabled in the directory";
                    if (await accounts.DisableByDirectoryAsync(account.Id, why))
                    {
                        disabled++;
                        logger.LogInformation("User {UserId} was disabled: {Why}", account.Id, why);
                    }
                    break;
            }
        }
        return disabled;
    }
}
