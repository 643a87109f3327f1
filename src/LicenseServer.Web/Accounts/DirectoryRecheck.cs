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

    /// <summary>
    /// One pass: claims the accounts due (another node checking at once takes others) and asks the directory about
    /// each over one connection; the number disabled. An entry the directory gives no clear answer for is asked again
    /// an interval later; a directory that cannot be reached disables nobody.
    /// </summary>
    public async Task<int> RunOnceAsync(CancellationToken cancel = default)
    {
        var config = (await settings.GetAsync()).Ldap;
        if (config is null) return 0;
        var disabled = 0;
        while (true)
        {
            var due = await accounts.ClaimDueAsync(Interval, SessionLifetime, Batch);
            if (due.Count == 0) return disabled;
            if (await CheckAsync(config, due, cancel) is not { } batch) return disabled;
            disabled += batch;
            if (due.Count < Batch) return disabled;
        }
    }

    /// <summary>Asks the directory about one batch; the number disabled, or null when the directory cannot be asked.</summary>
    private async Task<int?> CheckAsync(LdapConfig config, IReadOnlyList<DirectoryAccountRow> due, CancellationToken cancel)
    {
        IReadOnlyList<LdapCheck> checks;
        try
        {
            checks = await LdapDirectory.CheckAsync(config, due.Select(a => a.ExternalId).ToList(), cancel);
        }
        catch (LdapException e)
        {
            logger.LogWarning("Directory accounts cannot be checked: {Problem}", e.Message);
            return null;
        }
        var disabled = 0;
        foreach (var (account, check) in due.Zip(checks))
        {
            if (check is LdapCheck.Active or LdapCheck.Unavailable) continue;
            var why = check == LdapCheck.Gone ? "the entry is no longer in the directory" : "the entry is disabled in the directory";
            if (!await accounts.DisableByDirectoryAsync(account.Id, why)) continue;
            disabled++;
            logger.LogInformation("User {UserId} was disabled: {Why}", account.Id, why);
        }
        if (checks.Contains(LdapCheck.Unavailable))
            logger.LogWarning("The directory gave no clear answer for {Count} of {Total} accounts; they are asked again later", checks.Count(c => c == LdapCheck.Unavailable), due.Count);
        return disabled;
    }
}
