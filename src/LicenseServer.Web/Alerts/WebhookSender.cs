using System.Net.Http.Headers;
using System.Net.Sockets;
using LicenseServer.Core.Alerts;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Outbound;

namespace LicenseServer.Web.Alerts;

/// <summary>How a webhook delivery ended: the last status (null: no answer) and how many attempts it took.</summary>
public sealed record WebhookResult(bool Delivered, int? Status, int Attempts, string Outcome);

/// <summary>
/// L12: POSTs a signed JSON body. Network errors, timeouts and 5xx answers are retried with exponential
/// backoff and jitter; a 4xx answer is final (the receiver refused this body, and will again), and so is a
/// host that is or resolves only to a link-local or multicast address (<see cref="OutboundConnector"/>). Redirects
/// are not followed. Logs name only the receiver's host: a webhook URL often carries a token of its own.
/// </summary>
public sealed class WebhookSender(KitOptions options, ILogger<WebhookSender> logger) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        UseCookies = false,
        // No proxy: a proxy would connect on our behalf to an address we never checked (the environment's
        // HTTP_PROXY would otherwise apply). Every connection goes through the outbound rule instead, checked
        // after the name is resolved, so a redirect, were one ever followed, would be checked too.
        UseProxy = false,
        ConnectCallback = async (context, cancel) =>
            new NetworkStream(await OutboundConnector.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancel), ownsSocket: true),
    }) { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<WebhookResult> SendAsync(Uri url, string secret, string eventName, Guid deliveryId, byte[] body, CancellationToken cancel)
    {
        var attempts = Math.Max(1, options.Alerts.WebhookAttempts);
        var timeout = TimeSpan.FromSeconds(Math.Max(1, options.Alerts.WebhookTimeoutSeconds));
        var signature = AlertRules.Signature(secret, body);
        for (var attempt = 1; ; attempt++)
        {
            string outcome;
            int? status = null;
            try
            {
                using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                attemptTimeout.CancelAfter(timeout);
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.Add("X-Kit-Event", eventName);
                request.Headers.Add("X-Kit-Delivery", deliveryId.ToString());
                request.Headers.Add("X-Kit-Signature", signature);
                request.Headers.UserAgent.Add(new ProductInfoHeaderValue("KitLicenseServer", ServerHost.Version));
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptTimeout.Token);
                status = (int)response.StatusCode;
                if (status is >= 200 and < 300) return new WebhookResult(true, status, attempt, $"answered {status}");
                outcome = $"answered {status}";
                if (status < 500)
                {
                    logger.LogWarning("Alert webhook to {Host} {Outcome}; not retried", url.Host, outcome);
                    return new WebhookResult(false, status, attempt, outcome);
                }
            }
            catch (HttpRequestException e) when (e.InnerException is OutboundRefusedException refused)
            {
                // Final: the next attempts, seconds later, would resolve the same and be refused the same.
                outcome = $"refused: {refused.Refusal.Short}";
                logger.LogWarning("Alert webhook to {Host} {Outcome}; not retried", url.Host, outcome);
                return new WebhookResult(false, null, attempt, outcome);
            }
            catch (HttpRequestException e)
            {
                outcome = $"failed: {e.HttpRequestError}";
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                outcome = $"gave no answer within {timeout.TotalSeconds:0} seconds";
            }
            if (attempt >= attempts)
            {
                logger.LogWarning("Alert webhook to {Host} {Outcome} after {Attempts} attempts; giving up", url.Host, outcome, attempt);
                return new WebhookResult(false, status, attempt, outcome);
            }
            var delay = Backoff(attempt, options.Alerts.WebhookBaseDelayMs);
            logger.LogInformation("Alert webhook to {Host} {Outcome}; attempt {Next} in {Delay} ms", url.Host, outcome, attempt + 1, (int)delay.TotalMilliseconds);
            await Task.Delay(delay, cancel);
        }
    }

    /// <summary>base × 2^(attempt-1), plus up to half of it at random so that many senders do not retry in step.</summary>
    public static TimeSpan Backoff(int attempt, int baseDelayMs)
    {
        var exponential = Math.Max(0, baseDelayMs) * Math.Pow(2, Math.Min(attempt - 1, 16));
        return TimeSpan.FromMilliseconds(exponential + Random.Shared.NextDouble() * exponential / 2);
    }

    public void Dispose() => _http.Dispose();
}
