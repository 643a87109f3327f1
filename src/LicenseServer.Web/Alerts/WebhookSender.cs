using System.Net.Http.Headers;
using System.Net.Sockets;
using LicenseServer.Core.Alerts;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Outbound;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace LicenseServer.Web.Alerts;

/// <summary>How a webhook delivery ended: the last status (null: no answer) and how many attempts it took.</summary>
public sealed record WebhookResult(bool Delivered, int? Status, int Attempts, string Outcome);

/// <summary>
/// POSTs a usage alert's signed JSON body, retried by a Polly pipeline (<see cref="Retries"/>); a host that is or
/// resolves only to a link-local or multicast address is refused (<see cref="OutboundConnector"/>). Redirects
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
        var timeout = TimeSpan.FromSeconds(Math.Max(1, options.Alerts.WebhookTimeoutSeconds));
        var signature = AlertRules.Signature(secret, body);
        var attempts = 0;
        try
        {
            using var response = await Retries(url, timeout).ExecuteAsync(async attemptCancel =>
            {
                attempts++;
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.Add("X-Kit-Event", eventName);
                request.Headers.Add("X-Kit-Delivery", deliveryId.ToString());
                request.Headers.Add("X-Kit-Signature", signature);
                request.Headers.UserAgent.Add(new ProductInfoHeaderValue("KitLicenseServer", ServerHost.Version));
                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCancel);
            }, cancel);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300) return new WebhookResult(true, status, attempts, $"answered {status}");
            return GaveUp(url, status, attempts, $"answered {status}");
        }
        catch (HttpRequestException e) when (e.InnerException is OutboundRefusedException refused)
        {
            return GaveUp(url, null, attempts, $"refused: {refused.Refusal.Short}");
        }
        catch (HttpRequestException e)
        {
            return GaveUp(url, null, attempts, $"failed: {e.HttpRequestError}");
        }
        catch (TimeoutRejectedException)
        {
            return GaveUp(url, null, attempts, $"gave no answer within {timeout.TotalSeconds:0} seconds");
        }
    }

    /// <summary>
    /// Up to Kit:Alerts:WebhookAttempts attempts of at most WebhookTimeoutSeconds each. Network errors, timeouts and
    /// 5xx answers are retried after an exponential delay from WebhookBaseDelayMs with jitter, so that many senders
    /// do not retry in step. Final at once: a 4xx answer (the receiver refused this body, and will again) and a
    /// refused address (the next attempt would resolve the same and be refused the same).
    /// </summary>
    private ResiliencePipeline<HttpResponseMessage> Retries(Uri url, TimeSpan timeout) =>
        new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(1, options.Alerts.WebhookAttempts) - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(Math.Max(0, options.Alerts.WebhookBaseDelayMs)),
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>(e => e.InnerException is not OutboundRefusedException)
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(response => (int)response.StatusCode >= 500),
                OnRetry = retry =>
                {
                    var outcome = retry.Outcome.Result is { } response ? $"answered {(int)response.StatusCode}"
                        : retry.Outcome.Exception is HttpRequestException e ? $"failed: {e.HttpRequestError}"
                        : $"gave no answer within {timeout.TotalSeconds:0} seconds";
                    logger.LogInformation("Alert webhook to {Host} {Outcome}; attempt {Next} in {Delay} ms",
                        url.Host, outcome, retry.AttemptNumber + 2, (int)retry.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .AddTimeout(timeout)
            .Build();

    private WebhookResult GaveUp(Uri url, int? status, int attempts, string outcome)
    {
        logger.LogWarning("Alert webhook to {Host} {Outcome} after {Attempts} attempt(s); giving up", url.Host, outcome, attempts);
        return new WebhookResult(false, status, attempts, outcome);
    }

    public void Dispose() => _http.Dispose();
}
