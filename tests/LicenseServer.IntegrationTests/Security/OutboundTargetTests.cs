using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Dapper;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Alerts;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// The network: the mail server and the webhook that an organization's Owner or Admin sets never make the
/// server connect to a link-local (cloud metadata) or multicast address, and Send test email never shows
/// what the remote answered, so that the console is no probe of the machine's network.
/// </summary>
public class OutboundTargetTests : ConsoleTest
{
    private long _org;
    private string Settings => $"/Organizations/{_org}/Settings";

    // One attempt per second at most, should the old code retry: the webhook test then fails in seconds, not a minute.
    protected override string[] ServerSettings => ["--Kit:Alerts:WebhookBaseDelayMs=20", "--Kit:Alerts:WebhookTimeoutSeconds=3"];

    [SetUp]
    public async Task CreateOrganization() => _org = await CreateOrganizationAsync(Admin, "ACME QA");

    private async Task<HttpResponseMessage> SaveMailAsync(string host, int port, string username = "", string password = "", string protocol = "plain") =>
        await Admin.PostFormAsync(Settings + "?handler=Update", new Dictionary<string, string>
        {
            ["host"] = host, ["port"] = port.ToString(), ["username"] = username, ["password"] = password, ["protocol"] = protocol, ["sender"] = "licenses@acme.test",
        }, tokenPage: Settings);

    private async Task<HttpResponseMessage> TestMailAsync() =>
        await Admin.PostFormAsync(Settings + "?handler=Test", new Dictionary<string, string> { ["recipient"] = "it@acme.test" }, tokenPage: Settings);

    [TestCase("169.254.169.254", "link-local")]
    [TestCase("[fe80::1]", "link-local")]
    [TestCase("ff02::1", "multicast")]
    [TestCase("::ffff:169.254.169.254", "link-local")]
    [TestCase("224.0.0.251", "multicast")]
    public async Task A_mail_server_at_a_link_local_or_multicast_address_is_refused_and_nothing_is_stored(string host, string kind)
    {
        using var response = await SaveMailAsync(host, 25);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain($"{host} is a {kind} address, which the server never connects to."));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM mail_settings"), Is.Zero);
    }

    [TestCase("http://169.254.169.254/latest/meta-data", "169.254.169.254", "link-local")]
    [TestCase("http://[fe80::a9fe:a9fe]/latest/meta-data", "[fe80::a9fe:a9fe]", "link-local")]
    [TestCase("https://[::ffff:169.254.169.254]/x", "[::ffff:169.254.169.254]", "link-local")]
    [TestCase("http://2852039166/latest/meta-data", "169.254.169.254", "link-local")]
    [TestCase("http://[ff02::1]/x", "[ff02::1]", "multicast")]
    public async Task A_webhook_to_a_link_local_or_multicast_address_is_refused_and_nothing_is_stored(string url, string host, string kind)
    {
        using var response = await Admin.PostFormAsync(Settings + "?handler=Alerts", new Dictionary<string, string>
        {
            ["threshold"] = "80", ["onRefusal"] = "true", ["webhookUrl"] = url, ["webhookSecret"] = "",
        }, tokenPage: Settings);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain($"{host} is a {kind} address, which the server never connects to."));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM alert_settings"), Is.Zero);
    }

    [Test]
    public async Task Send_test_email_to_a_link_local_host_stored_before_the_check_is_refused_without_connecting()
    {
        await using (var db = Db())
            await db.ExecuteAsync("""
                INSERT INTO mail_settings (organization_id, host, port, username, password_protected, protocol, sender)
                VALUES (@_org, '169.254.169.254', 25, NULL, NULL, 'plain', 'licenses@acme.test')
                """, new { _org });
        var clock = Stopwatch.StartNew();
        using var response = await TestMailAsync();
        clock.Stop();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain(
            "The mail server 169.254.169.254:25 did not accept the message: 169.254.169.254 is a link-local address, which the server never connects to."));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)), "refused before any connection attempt, not after a timeout");
    }

    [TestCase("http://169.254.169.254/x", "169.254.169.254 is a link-local address")]
    [TestCase("http://[fe80::1]:8080/x", "[fe80::1] is a link-local address")]
    [TestCase("http://[ff02::1]/x", "[ff02::1] is a multicast address")]
    [TestCase("http://255.255.255.255/x", "255.255.255.255 is a broadcast address")]
    [TestCase("http://0.0.0.0/x", "0.0.0.0 is an unspecified address")]
    public async Task A_webhook_to_a_forbidden_address_is_refused_once_and_not_retried(string url, string outcome)
    {
        var clock = Stopwatch.StartNew();
        var result = await Server.Service<WebhookSender>().SendAsync(new Uri(url), "test-webhook-secret-0123456789", "usage_threshold",
            Guid.NewGuid(), "{}"u8.ToArray(), CancellationToken.None);
        Assert.That(result.Delivered, Is.False);
        Assert.That(result.Outcome, Is.EqualTo($"refused: {outcome}"));
        Assert.That(result.Attempts, Is.EqualTo(1), "a forbidden address is final: retrying cannot change it");
        Assert.That(result.Status, Is.Null);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)));
    }

    private const string Greeting = "220 internal-relay.corp.example ESMTP Postfix secret-banner";
    private const string Hello = "250 internal-relay.corp.example secret-banner";

    /// <summary>
    /// Scripts of a fake SMTP server: its greeting, then one answer per line it reads ("|" separates them), then it
    /// hangs up. Every answer carries the names a prober would be after.
    /// </summary>
    [TestCase("plain", "554 5.7.1 internal-relay.corp.example ESMTP Postfix secret-banner", "the server refused the connection (SMTP status 554)")]
    [TestCase("plain", Greeting + "|secret-banner at internal-relay.corp.example says hello", "the server did not answer as an SMTP server")]
    [TestCase("plain", Greeting, "the server closed the connection")]
    [TestCase("plain", Greeting + "|" + Hello + "|250 2.1.0 secret-banner|550 5.1.1 <it@acme.test> unknown at internal-relay.corp.example secret-banner",
        "the server refused the recipient (SMTP status 550)")]
    [TestCase("plain", Greeting + "|250-internal-relay.corp.example secret-banner\r\n250 AUTH PLAIN LOGIN|535 5.7.8 secret-banner internal-relay.corp.example|535 5.7.8 secret-banner",
        "the username or password was refused")]
    [TestCase("smtps", Greeting, "the TLS handshake failed (check the protocol and the certificate)")]
    [TestCase("starttls", Greeting + "|" + Hello, "the server does not offer STARTTLS (choose plain SMTP or SMTPS)")]
    public async Task Send_test_email_names_the_kind_of_failure_and_never_what_the_server_answered(string protocol, string script, string kind)
    {
        using var smtp = FakeSmtpServer.Start(script.Split('|'));
        var username = script.Contains("AUTH", StringComparison.Ordinal) ? "mailer" : ""; // only where the server offers authentication
        using (var saved = await SaveMailAsync("127.0.0.1", smtp.Port, username, password: "smtp-secret-password", protocol: protocol))
            Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(saved));
        using var response = await TestMailAsync();
        var text = await ConsoleClient.TextOf(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(text, Does.Contain($"The mail server 127.0.0.1:{smtp.Port} did not accept the message: {kind}."));
        Assert.That(text, Does.Not.Contain("secret-banner").And.Not.Contain("internal-relay").And.Not.Contain("smtp-secret-password"));
    }

    /// <summary>An SMTP server of a network the console must not reveal: it says its name and software in every answer.</summary>
    private sealed class FakeSmtpServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly string[] _answers;

        private FakeSmtpServer(string[] answers) => _answers = answers;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static FakeSmtpServer Start(string[] answers)
        {
            var server = new FakeSmtpServer(answers);
            server._listener.Start();
            _ = server.ServeAsync();
            return server;
        }

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync();
                    await using var stream = client.GetStream();
                    using var reader = new StreamReader(stream, Encoding.ASCII);
                    for (var i = 0; i < _answers.Length; i++)
                    {
                        if (i > 0 && await reader.ReadLineAsync() is null) break;
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(_answers[i] + "\r\n"));
                    }
                    // Then hangs up, as a server does that turned the client away.
                }
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or IOException)
            {
                // Stopped by the test.
            }
        }

        public void Dispose() => _listener.Stop();
    }
}
