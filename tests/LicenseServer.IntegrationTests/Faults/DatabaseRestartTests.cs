using System.Diagnostics;
using System.Net.Http.Json;
using Dapper;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Faults;

/// <summary>
/// Right after a PostgreSQL restart, the server's pool holds connections whose server is gone: the first
/// command on one fails. Requests that are safe to repeat are retried and succeed; the others answer 503
/// database_unavailable, never 500, and a client that retries gets through.
/// </summary>
// Alone (see Parallelism.cs): it needs its server's pool full of dead connections after a restart, and another
// test stopping a PostgreSQL would empty every pool of the process first.
[NonParallelizable]
public class DatabaseRestartTests : OwnPostgresTest
{
    // No usage sample in the middle of a test: the first command after each restart is the request's.
    protected override string[] ServerSettings => ["--Kit:Usage:SampleSeconds=3600"];

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Restarts PostgreSQL with a full pool of (then dead) connections, and sends one request first.</summary>
    private async Task<Answer> FirstAfterRestartAsync(string kind, Func<HttpRequestMessage> request, HttpClient? http = null)
    {
        await FillPoolAsync();
        StopDatabase();
        StartDatabase();
        return await ExchangeAsync(kind, _clock, () => (http ?? Http).SendAsync(request()));
    }

    private async Task<Guid> LiveSessionAsync(string process)
    {
        var id = Guid.NewGuid();
        using var response = await Http.SendAsync(Checkout(id, process: process));
        Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
        return id;
    }

    [Test]
    public async Task Safe_requests_succeed_at_once_and_writes_answer_503_never_500_and_a_retrying_client_gets_through()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        var token = await BearerTokenAsync("dev@acme.test");
        var live = await LiveSessionAsync("live");
        var released = await LiveSessionAsync("released");
        var console = Admin.Http; // the admin's cookies
        var form = await Admin.TokenAsync(Page());

        // Each safe request goes first after its own restart, on a dead connection; each succeeds.
        var safe = new List<(Answer Answer, int Expected)>
        {
            (await FirstAfterRestartAsync("console page", () => new HttpRequestMessage(HttpMethod.Get, Page()), console), 200),
            (await FirstAfterRestartAsync("api get", () => WithBearer(new HttpRequestMessage(HttpMethod.Get, "/api/v1/organizations"), token)), 200),
            (await FirstAfterRestartAsync("ready", () => new HttpRequestMessage(HttpMethod.Get, "/health/ready")), 200),
            (await FirstAfterRestartAsync("heartbeat", () => Heartbeat(live)), 200),
            (await FirstAfterRestartAsync("checkout repeating its session id", () => Checkout(live, process: "live")), 201),
            (await FirstAfterRestartAsync("new checkout", () => Checkout(Guid.NewGuid(), process: "new")), 201),
            (await FirstAfterRestartAsync("release", () => Release(released)), 204),
        };
        Assert.That(safe.Where(s => s.Answer.Status != s.Expected).Select(s => s.Answer.ToString()), Is.Empty, "safe requests that did not succeed");
        await using (var db = Db())
        {
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE process_id = 'new'"), Is.EqualTo(1),
                "the retried checkout took one seat");
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > now()"), Is.EqualTo(2),
                "live and new are live, released is not");
        }

        // A write is not repeated by the server: 503 with Retry-After and nothing stored; sent again, it succeeds.
        var grant = await FirstAfterRestartAsync("grant", () => AssignRequest("dev@acme.test", form), console);
        Assert.That(grant.Status, Is.EqualTo(503), grant.ToString());
        Assert.That((grant.ContentType, grant.RetryAfter), Is.EqualTo(("text/html; charset=utf-8", "5")));
        Assert.That(grant.Body, Does.Contain("data-testid=\"database-unavailable\"").And.Contain("Your change may not have been saved"));
        Assert.That(grant.Csp, Does.StartWith("default-src 'self'"), "the outage page keeps the console's security headers");
        Assert.That(await AssignedAsync(), Is.Zero, "the refused grant stored nothing");
        using (var again = await console.SendAsync(AssignRequest("dev@acme.test", form)))
            Assert.That((int)again.StatusCode, Is.EqualTo(302));
        Assert.That(await AssignedAsync(), Is.EqualTo(1));

        // An activation starts with its batched renewal check, which is safe to repeat: repeated on a fresh connection,
        // it finds no active machine, and the activation itself then runs once.
        var activation = await FirstAfterRestartAsync("activation", () => WithBearer(new HttpRequestMessage(HttpMethod.Post, $"/api/v1/organizations/{Org}/activations")
        {
            Content = JsonContent.Create(new { product = "KSE", machineId = "DEV-1" }),
        }, token));
        Assert.That(activation.Status, Is.EqualTo(200), activation.ToString());
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM machine_activation_event WHERE machine_id = 'DEV-1'"), Is.EqualTo(1), "activated once");

        // The client library retries a 503 database_unavailable: its first answer was that 503, its last the deactivation's.
        var seen = new StatusRecorder();
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, seen, Clock) { Token = token };
        await FillPoolAsync();
        StopDatabase();
        StartDatabase();
        await kit.DeactivateAsync(Org, "KSE", "DEV-1");
        Assert.That(seen.Statuses, Is.EqualTo(new[] { 503, 204 }));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<bool>("SELECT deactivated_at IS NOT NULL FROM machine_activation WHERE machine_id = 'DEV-1'"), Is.True);
    }

    private HttpRequestMessage AssignRequest(string email, string antiforgeryToken) =>
        new(HttpMethod.Post, Page() + "&handler=Assign")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["emails"] = email, ["__RequestVerificationToken"] = antiforgeryToken }),
        };

    /// <summary>Lets requests through and notes each answer's status.</summary>
    private sealed class StatusRecorder() : DelegatingHandler(new HttpClientHandler())
    {
        public List<int> Statuses { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            lock (Statuses) Statuses.Add((int)response.StatusCode);
            return response;
        }
    }
}
