using System.Text.Json;
using LicenseServer.Core.Alerts;
using LicenseServer.Data.Alerts;
using LicenseServer.Data.Usage;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Mail;

namespace LicenseServer.Web.Alerts;

/// <summary>The webhook body (snake_case JSON). <c>RefusalCode</c> is set for seat_refused only.</summary>
public sealed record AlertPayload(Guid DeliveryId, string Event, long OrganizationId, string OrganizationName, string Product,
    int InUse, int Quota, int? Threshold, DateTimeOffset Time, string? RefusalCode);

/// <summary>
/// Usage alerts, in the background: for each product the <see cref="AlertTrigger"/> queued, decides whether an
/// alert is due, claims it in the database (once an hour per product, across nodes), and delivers it:
/// an email to the organization's Owners and Admins through its mail server, and the webhook where one
/// is set. Each alert sent is audited as <c>alert.sent</c>.
/// </summary>
public sealed class AlertDispatcher(
    AlertTrigger trigger,
    AlertSettingsService settings,
    AlertRepository alerts,
    UsageRepository usage,
    MailService mail,
    WebhookSender webhooks,
    KitOptions options,
    TimeProvider clock,
    ILogger<AlertDispatcher> logger) : BackgroundService
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly HashSet<Task> _deliveries = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var check = await trigger.NextAsync(stoppingToken);
                try
                {
                    if (check is not null) await CheckAsync(check, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Usage alert check of {Product} in organization {Organization} failed: {Reason}", check?.Product, check?.OrganizationId, e.Message);
                }
                finally
                {
                    trigger.Done();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        Task[] running;
        lock (_deliveries) running = [.. _deliveries];
        await Task.WhenAll(running);
    }

    private async Task CheckAsync(AlertCheck check, CancellationToken cancel)
    {
        var config = await settings.CachedAsync(check.OrganizationId);
        if (config is null) return;
        if (check.Event == AlertEvent.UsageThreshold ? config.ThresholdPercent is null : !config.OnRefusal) return;
        var now = clock.GetUtcNow();
        var (inUse, quota) = await usage.PoolAsync(check.OrganizationId, check.Product, now);
        if (check.Event == AlertEvent.UsageThreshold && !AlertRules.Reached(inUse, quota, config.ThresholdPercent!.Value)) return;
        if (!await alerts.TryClaimAsync(check.OrganizationId, check.Product, now, AlertRules.Quiet))
        {
            // Another node (or an earlier check) sent this hour's alert: stay quiet until its hour is over.
            var last = await alerts.LastSentAsync(check.OrganizationId, check.Product);
            if (last is { } at) trigger.QuietUntil(check.OrganizationId, check.Product, at + AlertRules.Quiet);
            return;
        }
        trigger.QuietUntil(check.OrganizationId, check.Product, now + AlertRules.Quiet);
        var (name, admins) = await alerts.RecipientsAsync(check.OrganizationId);
        var payload = new AlertPayload(Guid.NewGuid(), AlertRules.Name(check.Event), check.OrganizationId, name, check.Product, inUse, quota,
            config.ThresholdPercent, now, check.RefusalCode);
        trigger.Begin();
        var delivery = Task.Run(() => DeliverAsync(payload, config, admins, cancel), CancellationToken.None);
        lock (_deliveries) _deliveries.Add(delivery);
        _ = delivery.ContinueWith(t =>
        {
            lock (_deliveries) _deliveries.Remove(t);
            trigger.Done();
        }, TaskScheduler.Default);
    }

    /// <summary>Mail and webhook of one claimed alert, then its audit entry. Failures are logged, never thrown.</summary>
    private async Task DeliverAsync(AlertPayload alert, AlertSettings config, IReadOnlyList<string> admins, CancellationToken cancel)
    {
        try
        {
            var outcome = new List<string>
            {
                alert.Event == "usage_threshold"
                    ? $"usage_threshold: {alert.InUse} of {alert.Quota} seats in use, threshold {alert.Threshold}%"
                    : $"seat_refused ({alert.RefusalCode}): {alert.InUse} of {alert.Quota} seats in use",
            };
            outcome.Add(await MailAsync(alert, admins, cancel));
            if (config.WebhookUrl is { } url && config.WebhookSecret is { } secret)
            {
                var body = JsonSerializer.SerializeToUtf8Bytes(alert, Json);
                var result = await webhooks.SendAsync(new Uri(url), secret, alert.Event, alert.DeliveryId, body, cancel);
                outcome.Add($"webhook {result.Outcome} after {result.Attempts} attempt{(result.Attempts == 1 ? "" : "s")}");
            }
            await alerts.AuditSentAsync(alert.OrganizationId, alert.Product, string.Join("; ", outcome));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Usage alert {Delivery} of {Product} in organization {Organization} failed: {Reason}", alert.DeliveryId, alert.Product, alert.OrganizationId, e.Message);
        }
        catch (OperationCanceledException)
        {
            logger.LogInformation("Usage alert {Delivery} was interrupted by the server stopping", alert.DeliveryId);
        }
    }

    private async Task<string> MailAsync(AlertPayload alert, IReadOnlyList<string> admins, CancellationToken cancel)
    {
        var server = await mail.GetAsync(alert.OrganizationId);
        if (server is null)
        {
            logger.LogInformation("Usage alert of {Product} in organization {Organization} not emailed: it has no mail server", alert.Product, alert.OrganizationId);
            return "no email (no mail server is set)";
        }
        var (subject, text) = Message(alert);
        var sent = 0;
        foreach (var to in admins)
        {
            try
            {
                await mail.SendAsync(server, to, subject, text, cancel);
                sent++;
            }
            catch (MailFailedException)
            {
                // MailService logged the server's error.
            }
        }
        return $"email to {sent} of {admins.Count} owners and admins";
    }

    private (string Subject, string Text) Message(AlertPayload alert)
    {
        var link = $"{options.ServerUrl.TrimEnd('/')}/Organizations/{alert.OrganizationId}/Usage?product={Uri.EscapeDataString(alert.Product)}";
        var time = alert.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        return alert.Event == "usage_threshold"
            ? ($"{alert.Product} reached {alert.Threshold}% of its seats in {alert.OrganizationName}",
               $"{alert.InUse} of the {alert.Quota} {alert.Product} seats of \"{alert.OrganizationName}\" were in use at {time} UTC, " +
               $"at or above the alert threshold of {alert.Threshold}%.\n\nSee the usage over time: {link}\n\n" +
               "You get this email because you are an Owner or Admin of the organization. Alerts of a product are sent at most once an hour; " +
               "the threshold is set under the organization's Settings.")
            : ($"A {alert.Product} seat was refused in {alert.OrganizationName}",
               $"A request for a {alert.Product} seat in \"{alert.OrganizationName}\" was refused at {time} UTC ({alert.RefusalCode}); " +
               $"{alert.InUse} of the {alert.Quota} seats were in use.\n\nSee the usage and the refused requests: {link}\n\n" +
               "You get this email because you are an Owner or Admin of the organization. Alerts of a product are sent at most once an hour; " +
               "they are set under the organization's Settings.");
    }
}
