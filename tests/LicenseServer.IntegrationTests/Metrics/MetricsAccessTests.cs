using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Hosting;
using LicenseServer.Web.Metrics;

namespace LicenseServer.IntegrationTests.Metrics;

/// <summary>Who may read /metrics: this machine only by default; with Kit:Metrics:Token, whoever sends it.</summary>
public class MetricsAccessTests
{
    [Test]
    public async Task With_a_token_every_caller_must_send_it_as_a_bearer_token()
    {
        await using var server = await TestServer.StartAsync(settings: "--Kit:Metrics:Token=s3cret-metrics-token");
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        foreach (var authorization in new[] { null, "Bearer wrong", "Bearer s3cret-metrics-token-and-more", "Basic czNjcmV0LW1ldHJpY3MtdG9rZW4=" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var refused = await http.SendAsync(request);
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), authorization ?? "no token, from loopback");
            Assert.That(refused.Headers.WwwAuthenticate.ToString(), Is.EqualTo("Bearer"));
            Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain("Kit:Metrics:Token").And.Not.Contain("kit_"));
        }
        using var allowed = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        allowed.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret-metrics-token");
        using var scraped = await http.SendAsync(allowed);
        Assert.That(scraped.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        // Before activation: no license, no shares, and still a valid scrape.
        var scrape = PrometheusScrape.Parse(await scraped.Content.ReadAsStringAsync());
        Assert.That(scrape.Value("kit_database_up"), Is.EqualTo(1));
        Assert.That(scrape.Find("kit_seats_in_use"), Is.Empty);
        Assert.That(scrape.Find("kit_license_valid_until_seconds"), Is.Empty);
    }

    [Test]
    public void Without_a_token_only_loopback_callers_are_allowed()
    {
        var options = new MetricsOptions();
        Assert.Multiple(() =>
        {
            foreach (var address in new[] { "127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1" })
            {
                Assert.That(MetricsAccess.Check(options, IPAddress.Parse(address), IPAddress.Parse(address), false, ""), Is.EqualTo(MetricsVerdict.Allowed), address);
                Assert.That(MetricsAccess.Check(options, IPAddress.Parse(address), IPAddress.Parse(address), true, ""), Is.EqualTo(MetricsVerdict.Forbidden), address + " naming another client: origin unknown");
            }
            foreach (var address in new[] { "192.0.2.7", "10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1" })
                Assert.That(MetricsAccess.Check(options, IPAddress.Parse(address), IPAddress.Parse(address), false, "Bearer anything"), Is.EqualTo(MetricsVerdict.Forbidden), address);
            Assert.That(MetricsAccess.Check(options, null, null, false, ""), Is.EqualTo(MetricsVerdict.Forbidden), "no address known");
            Assert.That(MetricsAccess.Check(options, IPAddress.Loopback, IPAddress.Parse("10.1.2.3"), false, ""), Is.EqualTo(MetricsVerdict.Forbidden),
                "forwarded by a proxy on another machine, the caller's loopback is that machine's");
        });
    }

    [Test]
    public async Task Without_a_token_a_caller_from_another_address_gets_403_over_real_HTTP()
    {
        // This machine's own non-loopback address: a connection to it does not come from loopback.
        var address = NetworkInterface.GetAllNetworkInterfaces().Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        Assert.That(address, Is.Not.Null, "this test needs a network interface with an IPv4 address besides loopback");
        var port = FreePort.Next();
        await using var server = await TestServer.StartAsync(settings: $"--Urls=http://0.0.0.0:{port}");
        using var http = new HttpClient();
        using (var local = await http.GetAsync($"http://127.0.0.1:{port}/metrics"))
            Assert.That(local.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var remote = await http.GetAsync($"http://{address}:{port}/metrics");
        Assert.That(remote.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await remote.Content.ReadAsStringAsync(), Does.Contain("set Kit:Metrics:Token").And.Not.Contain("kit_"));
    }

    [Test]
    public async Task Turned_off_there_is_no_metrics_route_and_a_post_to_it_is_refused_when_on()
    {
        await using (var off = await TestServer.StartAsync(settings: "--Kit:Metrics:Enabled=false"))
        {
            using var http = new HttpClient { BaseAddress = new Uri(off.BaseUrl) };
            using var scraped = await http.GetAsync("/metrics");
            Assert.That(scraped.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        }
        await using var on = await TestServer.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(on.BaseUrl) };
        using var posted = await client.PostAsync("/metrics", new StringContent(""));
        Assert.That(posted.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed), "a scrape is a GET");
    }
}
