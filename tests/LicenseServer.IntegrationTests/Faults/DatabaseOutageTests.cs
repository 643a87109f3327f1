using System.Collections.Concurrent;
using System.Diagnostics;
using Dapper;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Alerts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LicenseServer.IntegrationTests.Faults;

/// <summary>
/// PostgreSQL stopped for 10 seconds under a mixed load and started again: meanwhile every answer that
/// needs the database is a 503 (problem+json on /api, a page of its own in the console), liveness stays
/// 200, nothing answers 500 or drops the connection; afterwards the same server serves again, its
/// background work included, without a restart.
/// </summary>
// Alone (see Parallelism.cs): it times what answers during a 10 s outage, and stopping PostgreSQL empties every
// connection pool of the process.
[NonParallelizable]
public class DatabaseOutageTests : OwnPostgresTest
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);
    private const string AlertSecret = "outage-webhook-secret-0123456789";

    protected override string[] ServerSettings => ["--Kit:Usage:SampleSeconds=1", "--Kit:Alerts:WebhookBaseDelayMs=20"];

    private static readonly Dictionary<string, int> Success = new()
    {
        ["checkout"] = 201, ["heartbeat"] = 200, ["release"] = 204, ["api get"] = 200,
        ["console page"] = 200, ["grant"] = 302, ["ready"] = 200, ["live"] = 200,
    };

    [Test]
    public async Task A_ten_second_outage_answers_503_and_afterwards_the_same_server_serves_again()
    {
        await using var hooks = await WebhookReceiver.StartAsync();
        var settings = $"/Organizations/{Org}/Settings";
        using (var saved = await Admin.PostFormAsync(settings + "?handler=Alerts", new Dictionary<string, string>
               { ["threshold"] = "50", ["webhookUrl"] = hooks.Url, ["webhookSecret"] = AlertSecret }, tokenPage: settings))
            Assert.That((int)saved.StatusCode, Is.EqualTo(302), await ConsoleClient.TextOf(saved));
        List<string> members;
        await using (var setup = Db()) members = await Members.AddAsync(setup, Org, 150, "grantee");
        await AddMemberAsync(Org, "dev@acme.test");
        var token = await BearerTokenAsync("dev@acme.test");
        var form = await Admin.TokenAsync(Page());

        var clock = Stopwatch.StartNew();
        var answers = new ConcurrentQueue<Answer>();
        using var stop = new CancellationTokenSource();
        async Task Loop(Func<Task> step)
        {
            while (!stop.IsCancellationRequested)
            {
                await step();
                await Task.Delay(100);
            }
        }
        async Task<Answer> Record(string kind, Func<Task<HttpResponseMessage>> send)
        {
            var answer = await ExchangeAsync(kind, clock, send);
            answers.Enqueue(answer);
            return answer;
        }
        var tried = 0;
        var workers = new List<Task>
        {
            Loop(async () =>
            {
                var id = Guid.NewGuid();
                if ((await Record("checkout", () => Http.SendAsync(Checkout(id, process: "load")))).Status != 201) return;
                await Record("heartbeat", () => Http.SendAsync(Heartbeat(id)));
                await Record("release", () => Http.SendAsync(Release(id)));
            }),
            Loop(() => Record("api get", () => Http.SendAsync(WithBearer(new HttpRequestMessage(HttpMethod.Get, "/api/v1/organizations"), token)))),
            Loop(() => Record("console page", () => Admin.Http.GetAsync(Page()))),
            Loop(async () =>
            {
                if (tried == members.Count) return;
                var email = members[tried++]; // each grant is tried once, so its answer alone says whether it may be stored
                await Record("grant " + email, () => Admin.Http.PostAsync(Page() + "&handler=Assign",
                    new FormUrlEncodedContent(new Dictionary<string, string> { ["emails"] = email, ["__RequestVerificationToken"] = form })));
                await Task.Delay(100);
            }),
            Loop(() => Record("ready", () => Http.GetAsync("/health/ready"))),
            Loop(() => Record("live", () => Http.GetAsync("/health/live"))),
        };

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var scrapeBefore = PrometheusScrape.Parse(await Http.GetStringAsync("/metrics"));
        var stopping = clock.Elapsed;
        StopDatabase();
        var down = clock.Elapsed;
        // A client that keeps retrying from the middle of the outage gets its seat once the database is back.
        var retrying = Task.Run(async () =>
        {
            await Task.Delay(Outage / 3);
            using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = ApiKey, DatabaseRetries = 12 };
            await using var session = await kit.CheckoutAsync("KRE", "PATIENT-1", "patient", autoHeartbeat: false);
            return (session.Id, At: clock.Elapsed);
        });
        await Task.Delay(Outage);
        // The metrics say the database is away, and show no seat figure rather than a stale one.
        var scrapeDuring = PrometheusScrape.Parse(await Http.GetStringAsync("/metrics"));
        var starting = clock.Elapsed;
        StartDatabase();
        var up = clock.Elapsed;
        var upAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(3));
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        var patient = await retrying;
        var scrapeAfter = PrometheusScrape.Parse(await Http.GetStringAsync("/metrics"));
        Assert.That((scrapeBefore.Value("kit_database_up"), scrapeBefore.Find("kit_seats_in_use").Any()), Is.EqualTo((1.0, true)), "before the outage");
        Assert.That((scrapeDuring.Value("kit_database_up"), scrapeDuring.Find("kit_seats_in_use").Count()), Is.EqualTo((0.0, 0)), "during the outage");
        Assert.That(scrapeDuring.Value("kit_checkouts_granted_total"), Is.GreaterThan(0), "the node's own counters are still there");
        Assert.That((scrapeAfter.Value("kit_database_up"), scrapeAfter.Find("kit_seats_in_use").Any()), Is.EqualTo((1.0, true)), "once the database is back");

        var all = answers.ToList();
        string Kind(Answer a) => a.Kind.StartsWith("grant", StringComparison.Ordinal) ? "grant" : a.Kind;
        TestContext.Progress.WriteLine($"stop {stopping.TotalSeconds:0.0}-{down.TotalSeconds:0.0}s, start {starting.TotalSeconds:0.0}-{up.TotalSeconds:0.0}s, {all.Count} answers");

        // Never a 500 (or any 5xx but 503), never a dropped connection, in any phase.
        Assert.That(all.Where(a => a.Status is 0 or >= 500 and not 503).Select(a => a.ToString()), Is.Empty);
        // Every 503 says what it is: problem+json database_unavailable under /api, the outage page in the console; both with Retry-After.
        var unavailable = all.Where(a => a.Status == 503).ToList();
        Assert.That(unavailable.Where(a => a.RetryAfter != "5").Select(a => a.ToString()), Is.Empty, "503 without Retry-After: 5");
        Assert.That(unavailable.Where(a => Kind(a) is "checkout" or "heartbeat" or "release" or "api get" && a.Code != "database_unavailable").Select(a => a.ToString()), Is.Empty);
        Assert.That(unavailable.Where(a => Kind(a) is "console page" or "grant"
            && (a.ContentType != "text/html; charset=utf-8" || !a.Body.Contains("data-testid=\"database-unavailable\"") || a.Body.Contains("Something went wrong"))).Select(a => a.ToString()), Is.Empty);
        Assert.That(unavailable.Where(a => Kind(a) == "ready" && !a.Body.Contains("\"database\":\"down\"")).Select(a => a.ToString()), Is.Empty);

        // While the database was down: every kind was tried, all but liveness answered 503, liveness 200.
        var during = all.Where(a => a.Start > down && a.End < starting).ToList();
        foreach (var kind in new[] { "checkout", "api get", "console page", "grant", "ready", "live" })
            Assert.That(during.Count(a => Kind(a) == kind), Is.GreaterThan(0), $"no {kind} request while the database was down");
        Assert.That(during.Where(a => Kind(a) != "live" && a.Status != 503).Select(a => a.ToString()), Is.Empty, "answers other than 503 while the database was down");
        Assert.That(during.Where(a => Kind(a) == "live" && a.Status != 200).Select(a => a.ToString()), Is.Empty, "liveness is not about the database");

        // Afterwards, the same process serves every kind again.
        var after = all.Where(a => a.Start > up).ToList();
        foreach (var kind in Success.Keys)
            Assert.That(after.Count(a => Kind(a) == kind), Is.GreaterThan(0), $"no {kind} request after the database came back");
        Assert.That(after.Where(a => a.Status != Success[Kind(a)]).Select(a => a.ToString()), Is.Empty, "answers that were not successes after the database came back");
        Assert.That(Server.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested, Is.False, "the server kept running");

        // Each grant answered 302 is stored; none refused while the database was down is (around the stop and
        // the start, a 503 cannot tell whether its commit landed).
        await using (var db = Db())
        {
            var assigned = (await db.QueryAsync<string>("""
                SELECT u.email FROM license_assignment a JOIN user_account u ON u.id = a.user_id WHERE a.organization_id = @Org AND a.product_code = 'KSE'
                """, new { Org })).ToHashSet();
            var grants = all.Where(a => Kind(a) == "grant").ToList();
            Assert.That(grants.Where(a => a.Status == 302 && !assigned.Contains(a.Kind[6..])).Select(a => a.ToString()), Is.Empty, "granted but not stored");
            Assert.That(during.Where(a => Kind(a) == "grant" && assigned.Contains(a.Kind[6..])).Select(a => a.ToString()), Is.Empty, "refused but stored");

            // The client that retried through the outage holds exactly one seat, taken after the restart.
            Assert.That(patient.At, Is.GreaterThan(starting), "the retrying client could only get through once the database was back");
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE process_id = 'patient'"), Is.EqualTo(1));
            Assert.That(await db.ExecuteScalarAsync<Guid>("SELECT id FROM floating_session WHERE process_id = 'patient'"), Is.EqualTo(patient.Id));

            // The usage sampler samples again.
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM usage_sample WHERE sampled_at >= date_trunc('second', @upAt)",
                new { upAt = upAt.UtcDateTime }), Is.GreaterThan(0), "no usage sample since the database came back");
        }

        // Every background service still runs, and alerts are delivered again: half the KRE seats in use raise one.
        foreach (var service in Server.App.Services.GetServices<IHostedService>().OfType<BackgroundService>())
            Assert.That(service.ExecuteTask, Is.Not.Null.And.Property(nameof(Task.IsCompleted)).False, $"{service.GetType().Name} stopped");
        // (The grants may have taken KSE to its threshold already: only KRE's alerts count here.)
        static string Product(ReceivedHook hook) => System.Text.Json.JsonDocument.Parse(hook.Body).RootElement.GetProperty("product").GetString()!;
        Assert.That(hooks.Received.Where(h => Product(h) == "KRE"), Is.Empty, "no KRE alert before its threshold");
        var held = new List<Guid>();
        await using (var db = Db())
            while (await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > now()") < 10)
            {
                var id = Guid.NewGuid();
                using var response = await Http.SendAsync(Checkout(id, machine: $"FAULT-{held.Count % 3}", process: $"alert-{held.Count}"));
                Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
                held.Add(id);
            }
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!hooks.Received.Any(h => Product(h) == "KRE") && DateTime.UtcNow < deadline) await Task.Delay(50);
        var hook = hooks.Received.Single(h => Product(h) == "KRE");
        Assert.That(hook.Event, Is.EqualTo("usage_threshold"));
        Assert.That(await Server.Service<AlertTrigger>().WaitIdleAsync(TimeSpan.FromSeconds(30)), "alert work did not finish");
    }
}
