using System.Net;
using System.Net.Http.Json;
using Dapper;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Hosting;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Behind a reverse proxy on the same host (Kit:Proxy:KnownProxies = 127.0.0.1): the tests reach the server
/// from 127.0.0.1 and play the proxy by adding X-Forwarded-For / X-Forwarded-Proto. The address the proxy
/// forwards is the caller's for throttling, /metrics and the audit log; from any other peer (here 127.0.0.2)
/// the headers are ignored.
/// </summary>
public sealed class ReverseProxyTests : ConsoleTest
{
    private const string Outsider = "203.0.113.7";
    private const string Colleague = "198.51.100.9";
    private readonly List<IDisposable> _owned = [];

    protected override string[] ServerSettings => ["--Kit:Proxy:KnownProxies:0=127.0.0.1"];

    [TearDown]
    public void DisposeOwned()
    {
        foreach (var owned in _owned) owned.Dispose();
        _owned.Clear();
    }

    /// <summary>A browser behind the proxy: every request carries the headers the proxy adds, connecting from <paramref name="peer"/> (the proxy's address by default).</summary>
    private ConsoleClient Through(string? forwardedFor, string? forwardedProto = null, IPAddress? peer = null)
    {
        var client = new ConsoleClient(Server.BaseUrl, peer);
        _owned.Add(client);
        if (forwardedFor is not null) client.Http.DefaultRequestHeaders.Add("X-Forwarded-For", forwardedFor);
        if (forwardedProto is not null) client.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", forwardedProto);
        return client;
    }

    [Test]
    public async Task Metrics_are_refused_to_a_caller_the_proxy_forwards_and_served_to_the_proxy_host_itself()
    {
        using (var remote = await Through(Outsider).GetAsync("/metrics"))
            Assert.That(remote.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "a caller elsewhere, through the proxy");
        using (var local = await Through(null).GetAsync("/metrics"))
            Assert.That(local.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a Prometheus on the proxy's host, without forwarding headers");
        using (var localThroughProxy = await Through("127.0.0.1").GetAsync("/metrics"))
            Assert.That(localThroughProxy.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a caller on this machine, through the proxy");
        using (var chain = await Through($"{Outsider}, 127.0.0.1").GetAsync("/metrics"))
            Assert.That(chain.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "an entry before the trusted one: the origin is not known to be local");
        using (var unknownPeer = await Through("127.0.0.1", peer: IPAddress.Parse("127.0.0.2")).GetAsync("/metrics"))
            Assert.That(unknownPeer.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "forwarding headers from a peer that is not a known proxy: origin unknown");
    }

    [Test]
    public async Task Failed_sign_ins_through_the_proxy_lock_out_their_own_address_not_everyone()
    {
        var guesser = Through(Outsider);
        for (var i = 0; i < 5; i++)
            using (var failed = await guesser.SignInAsync(AdminEmail, "guess " + i))
                Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"guess {i + 1}");
        using (var sixth = await guesser.SignInAsync(AdminEmail, Password))
            Assert.That(sixth.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "the guesser's address is locked out, even with the right password");
        using (var apiGuess = await LoginAsync(Outsider))
            Assert.That(apiGuess.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "the client API shares the limit per address");

        using (var colleague = await Through(Colleague).SignInAsync(AdminEmail, Password))
            Assert.That(colleague.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the account's owner, elsewhere behind the same proxy, signs in");
        using (var apiColleague = await LoginAsync(Colleague))
            Assert.That(apiColleague.StatusCode, Is.EqualTo(HttpStatusCode.OK), "and logs in through the client API");
        await using var db = Db();
        Assert.That(await db.QueryAsync<string>("SELECT DISTINCT address FROM sign_in_failure WHERE email = @AdminEmail", new { AdminEmail }),
            Is.EqualTo(new[] { Outsider }), "the failures are counted against the forwarded address");
    }

    [Test]
    public async Task A_peer_that_is_not_a_known_proxy_cannot_choose_its_address()
    {
        var spoofer = new IPAddress([127, 0, 0, 2]);
        for (var i = 0; i < 5; i++)
            using (var failed = await Through($"198.51.100.{i + 1}", peer: spoofer).SignInAsync(AdminEmail, "guess " + i))
                Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"guess {i + 1}");
        using (var sixth = await Through("198.51.100.77", peer: spoofer).SignInAsync(AdminEmail, Password))
            Assert.That(sixth.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "a new X-Forwarded-For does not escape the limit of the real address");
    }

    [Test]
    public async Task X_Forwarded_Proto_https_from_the_proxy_makes_the_request_HTTPS_and_from_anyone_else_it_does_not()
    {
        using (var proxied = await Through(Outsider, "https").GetAsync("/Account/SignIn"))
        {
            Assert.That(proxied.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(proxied.Headers.Contains("Strict-Transport-Security"), "HTTPS at the proxy: the answer keeps browsers on HTTPS");
            Assert.That(proxied.Headers.GetValues("Set-Cookie"), Has.All.Contains("secure"), "and its cookies are Secure");
        }
        using (var plain = await Through(Outsider, "http").GetAsync("/Account/SignIn"))
            Assert.That(plain.Headers.Contains("Strict-Transport-Security"), Is.False, "plain HTTP at the proxy");
        using (var spoofed = await Through(Outsider, "https", IPAddress.Parse("127.0.0.2")).GetAsync("/Account/SignIn"))
            Assert.That(spoofed.Headers.Contains("Strict-Transport-Security"), Is.False, "a peer that is not a known proxy cannot claim HTTPS");
    }

    [Test]
    public async Task An_audit_entry_records_the_address_the_proxy_forwarded()
    {
        var owner = Through(Outsider);
        using (var signedIn = await owner.SignInAsync(AdminEmail, Password))
            Assert.That(signedIn.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var org = await CreateOrganizationAsync(owner, "Proxied Corp");
        using (await InviteAsync(Admin, org, "direct@acme.test")) { }

        await using var db = Db();
        Assert.That(await db.QueryAsync<(string, string?)>("SELECT action, address FROM audit_event WHERE organization_id = @org ORDER BY id", new { org }),
            Is.EqualTo(new (string, string?)[] { ("organization.created", Outsider), ("member.added", Outsider), ("license.allocated", Outsider), ("license.allocated", Outsider), ("invitation.created", "127.0.0.1") }),
            "through the proxy, the forwarded address; straight from the proxy's host, its own");
        var page = await owner.GetTextAsync($"/Organizations/{org}/Audit");
        Assert.That(page, Does.Contain($"<td>{Outsider}</td>"), "the Audit page shows where a change came from");
    }

    private async Task<HttpResponseMessage> LoginAsync(string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/login") { Content = JsonContent.Create(new { email = AdminEmail, password = Password }) };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return await Through(null).Http.SendAsync(request);
    }
}

/// <summary>
/// With no Kit:Proxy settings (the default) no peer is a proxy: X-Forwarded-For and X-Forwarded-Proto are
/// ignored, even from this machine, and a request that carries them is one whose origin is unknown.
/// </summary>
public sealed class NoReverseProxyTests : ConsoleTest
{
    private ConsoleClient With(string header, string value)
    {
        var client = NewClient();
        client.Http.DefaultRequestHeaders.Add(header, value);
        return client;
    }

    [Test]
    public async Task Rotating_X_Forwarded_For_does_not_escape_the_limit_per_address()
    {
        for (var i = 0; i < 5; i++)
            using (var failed = await With("X-Forwarded-For", $"198.51.100.{i + 1}").SignInAsync(AdminEmail, "guess " + i))
                Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"guess {i + 1}");
        using var sixth = await With("X-Forwarded-For", "198.51.100.77").SignInAsync(AdminEmail, Password);
        Assert.That(sixth.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        await using var db = Db();
        Assert.That(await db.QueryAsync<string>("SELECT DISTINCT address FROM sign_in_failure"), Is.EqualTo(new[] { "127.0.0.1" }));
    }

    [Test]
    public async Task Metrics_carrying_forwarding_headers_are_refused_because_their_origin_is_unknown()
    {
        using (var plain = await NewClient().GetAsync("/metrics"))
            Assert.That(plain.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a Prometheus on this machine");
        foreach (var (header, value) in new[] { ("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-For", "203.0.113.7"), ("Forwarded", "for=127.0.0.1"), ("X-Real-IP", "203.0.113.7") })
        {
            using var proxied = await With(header, value).GetAsync("/metrics");
            Assert.That(proxied.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), $"{header}: {value}: a same-host proxy whose admin has not set Kit:Proxy");
            Assert.That(await proxied.Content.ReadAsStringAsync(), Does.Contain("Kit:Proxy").And.Not.Contain("kit_"));
        }
    }

    [Test]
    public async Task X_Forwarded_Proto_is_ignored()
    {
        using var response = await With("X-Forwarded-Proto", "https").GetAsync("/Account/SignIn");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.Contains("Strict-Transport-Security"), Is.False);
    }

    [Test]
    public async Task An_audit_entry_records_the_callers_own_address()
    {
        Admin.Http.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
        var org = await CreateOrganizationAsync(Admin, "Direct Corp");
        await using var db = Db();
        Assert.That(await db.QueryAsync<string?>("SELECT DISTINCT address FROM audit_event WHERE organization_id = @org", new { org }), Is.EqualTo(new[] { "127.0.0.1" }));
    }
}

/// <summary>Kit:Proxy settings: the framework's default trust in loopback is gone, networks are trusted like proxies, and a bad entry stops the server.</summary>
public sealed class ReverseProxySettingsTests
{
    private static async Task<HttpResponseMessage> SignInPageAsync(TestServer server, IPAddress from)
    {
        var client = new ConsoleClient(server.BaseUrl, from);
        client.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        try
        {
            return await client.GetAsync("/Account/SignIn");
        }
        finally
        {
            client.Dispose();
        }
    }

    [Test]
    public async Task Only_the_configured_network_is_trusted_not_loopback_by_default()
    {
        await using var server = await TestServer.StartAsync(settings: ["--Kit:Proxy:KnownNetworks:0=127.0.0.0/24", "--Kit:Proxy:KnownProxies:0=192.0.2.1"]);
        using (var inside = await SignInPageAsync(server, IPAddress.Parse("127.0.0.9")))
            Assert.That(inside.Headers.Contains("Strict-Transport-Security"), "127.0.0.9 is in 127.0.0.0/24");
        using (var outside = await SignInPageAsync(server, IPAddress.Parse("127.0.1.9")))
            Assert.That(outside.Headers.Contains("Strict-Transport-Security"), Is.False, "127.0.1.9 is loopback but not in 127.0.0.0/24");

        await using var other = await TestServer.StartAsync(settings: ["--Kit:Proxy:KnownNetworks:0=10.0.0.0/8"]);
        using var loopback = await SignInPageAsync(other, IPAddress.Loopback);
        Assert.That(loopback.Headers.Contains("Strict-Transport-Security"), Is.False, "loopback is trusted only when listed");
    }

    private static IEnumerable<TestCaseData> BadSettings()
    {
        yield return new TestCaseData("--Kit:Proxy:KnownProxies:0=localhost", "Kit:Proxy:KnownProxies", "localhost").SetName("A_host_name_as_a_known_proxy");
        yield return new TestCaseData("--Kit:Proxy:KnownProxies:0=10.0.0.0/8", "Kit:Proxy:KnownProxies", "10.0.0.0/8").SetName("A_range_as_a_known_proxy");
        yield return new TestCaseData("--Kit:Proxy:KnownNetworks:0=10.1.2.3/8", "Kit:Proxy:KnownNetworks", "10.1.2.3/8").SetName("A_range_with_host_bits");
        yield return new TestCaseData("--Kit:Proxy:KnownProxies:0=10.1", "Kit:Proxy:KnownProxies", "10.1").SetName("A_known_proxy_in_a_short_form");
        yield return new TestCaseData("--Kit:Proxy:KnownNetworks:0=10.0.0.0", "Kit:Proxy:KnownNetworks", "10.0.0.0").SetName("A_network_without_prefix");
        yield return new TestCaseData("--Kit:Proxy:KnownNetworks:0=10/8", "Kit:Proxy:KnownNetworks", "10/8").SetName("A_network_in_a_short_form");
        yield return new TestCaseData("--ForwardedHeaders_Enabled=true", "ASPNETCORE_FORWARDEDHEADERS_ENABLED", "Kit:Proxy").SetName("The_framework_switch_that_trusts_every_peer");
    }

    [TestCaseSource(nameof(BadSettings))]
    public void A_bad_setting_stops_the_server_at_start_with_a_sentence_naming_it(string setting, string name, string value)
    {
        var refused = Assert.ThrowsAsync<StartupException>(async () => await (await TestServer.StartAsync(PostgresFixture.CreateDatabase(), settings: setting)).DisposeAsync())!;
        Assert.That(refused.Message, Does.Contain(name).And.Contain(value));
    }
}
