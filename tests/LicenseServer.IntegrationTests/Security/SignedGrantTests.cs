using System.Net;
using System.Text.Json.Nodes;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// The customer against the vendor: a floating seat counts for a client only when the server's answer holds a
/// grant that verifies with the vendor's key. A stub server, a proxy, or a server that trusts a self-made
/// "vendor" key cannot hand out seats.
/// </summary>
public class SignedGrantTests : SeatRuleTest
{
    [Test]
    public async Task A_checkout_and_each_heartbeat_carry_a_grant_the_vendor_key_verifies()
    {
        await MembersAsync(1);
        using var kit = await ApiKeyClientAsync("user0@acme.test");
        await using var session = await kit.CheckoutAsync("KRE", "M-1", "4242", autoHeartbeat: false);
        Assert.That(session.Grant, Has.Property("ProductCode").EqualTo("KRE").And.Property("MachineId").EqualTo("M-1")
            .And.Property("ProcessId").EqualTo("4242").And.Property("OrganizationId").EqualTo(Org));
        var first = session.ExpiresAt;
        await Task.Delay(20);
        await session.HeartbeatAsync();
        Assert.That(session.ExpiresAt, Is.GreaterThan(first), "the heartbeat's grant runs later");
        Assert.That(session.Grant.ExpiresAt - session.Grant.IssuedAt, Is.LessThanOrEqualTo(TimeSpan.FromSeconds(330)));
    }

    [Test]
    public async Task A_client_of_another_vendor_does_not_count_a_seat_from_a_server_its_vendor_does_not_vouch_for()
    {
        // This server trusts the tests' own vendor key, as a server in demo mode trusts a self-made one.
        await MembersAsync(1);
        using var ours = await ApiKeyClientAsync("user0@acme.test");
        using var vendorsClient = new KitClient(new Uri(Server.BaseUrl), PrivateKey.Generate().PublicKey) { ApiKey = ours.ApiKey };
        var refused = Refused(() => vendorsClient.CheckoutAsync("KRE", "M-1", "1", autoHeartbeat: false));
        Assert.That(refused.Code, Is.EqualTo("grant_invalid"));
        Assert.That(refused.Message, Does.Contain("unknown_signer"));
    }

    [Test]
    public async Task A_stub_server_answering_201_without_a_grant_or_with_a_forged_one_grants_no_seat()
    {
        var selfMadeVendor = PrivateKey.Generate();
        var selfMadeServer = PrivateKey.Generate();
        var selfMadeLicense = LicenseIssuer.Issue(new LicenseOrder("ACME", null, "inst", selfMadeServer.PublicKey.ToBase64(), DateTimeOffset.UtcNow.AddDays(-1),
            DateTimeOffset.UtcNow.AddDays(365), [LicenseIssuer.ParseProduct("KRE:floating:1000:annual", DateTimeOffset.UtcNow.AddDays(365))]),
            selfMadeVendor, DateTimeOffset.UtcNow.AddDays(-1)).ToText();

        var answers = new Dictionary<string, Func<Guid, string?>>
        {
            ["no grant"] = _ => null,
            ["a grant vouched by a self-made vendor key"] = session => FloatingGrantFile.Sign(new FloatingGrantPayload(FloatingGrantFile.FileKind, session, 1, "KRE",
                ProductKind.Floating, "M-2", "2", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(5), "inst", selfMadeServer.PublicKey.ToBase64()),
                selfMadeServer, selfMadeLicense),
            ["a real grant of this server, for another session"] = _ => _otherSessionsGrant,
        };
        foreach (var (what, grant) in answers)
        {
            await using var stub = await StubServer.StartAsync(grant);
            using var client = new KitClient(new Uri(stub.Url), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = "kit_anything" };
            var refused = Refused(() => client.CheckoutAsync("KRE", "M-2", "2", autoHeartbeat: false));
            Assert.That(refused.Code, Is.EqualTo("grant_invalid"), what);
        }
    }

    private string? _otherSessionsGrant;

    /// <summary>A real checkout of another member, whose grant a stub may replay.</summary>
    [SetUp]
    public async Task TakeARealGrant()
    {
        await AddMemberAsync(Org, "other@acme.test");
        using var other = await ApiKeyClientAsync("other@acme.test");
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { product = "KRE", machineId = "M-2", processId = "2" }),
        };
        request.Headers.Add("X-Api-Key", other.ApiKey);
        using var response = await http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        _otherSessionsGrant = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["grant"]!.GetValue<string>();
    }

    /// <summary>An HTTP server that answers every checkout 201 with a session and the grant it is given.</summary>
    private sealed class StubServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private StubServer(WebApplication app, string url) => (_app, Url) = (app, url);

        public string Url { get; }

        public static async Task<StubServer> StartAsync(Func<Guid, string?> grant)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            app.MapPost("/api/v1/sessions", async (HttpContext context) =>
            {
                var body = await JsonNode.ParseAsync(context.Request.Body);
                var session = Guid.Parse(body!["sessionId"]!.GetValue<string>());
                return Results.Json(new { sessionId = session, heartbeatIntervalSeconds = 60, expiresAt = DateTimeOffset.UtcNow.AddMinutes(5), grant = grant(session) },
                    statusCode: StatusCodes.Status201Created);
            });
            await app.StartAsync();
            return new StubServer(app, app.Urls.First());
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
