using System.Diagnostics;
using System.Net.Http.Json;
using LicenseServer.Core.Activation;
using LicenseServer.Data.Database;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;
using Npgsql;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// Tests that stop and start PostgreSQL under a running server. They get a cluster of their own on a free
/// port (the run's cluster serves every other test), stopped and started with pg_ctl; each test has its
/// own database in it. The organization has KSE (per-user, 40) and KRE (floating, 20).
/// </summary>
public abstract class OwnPostgresTest : LicenseTest
{
    private PostgresCluster _cluster = null!;
    protected string ApiKey { get; private set; } = "";
    protected HttpClient Http { get; private set; } = null!;

    [OneTimeSetUp]
    public void StartOwnCluster()
    {
        _cluster = PostgresFixture.NewCluster();
        _cluster.Start();
    }

    [OneTimeTearDown]
    public void StopOwnCluster()
    {
        _cluster.Stop();
        try { Directory.Delete(_cluster.BaseDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    protected override string NewDatabase() => PostgresFixture.CreateMigratedDatabase(_cluster.ConnectionString("postgres"));

    [SetUp]
    public async Task PrepareSeatsAsync()
    {
        var now = DateTimeOffset.UtcNow;
        await Server.Service<ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [LicenseIssuer.ParseProduct("KSE:per-user:40:annual:Studio Enterprise", now.AddDays(365)),
                        LicenseIssuer.ParseProduct("KRE:floating:20:annual:Runtime Engine", now.AddDays(365))],
        }, issuedAt: now));
        await AllocateAsync(Org, "KSE", 40);
        await AllocateAsync(Org, "KRE", 20);
        var runner = await AddMemberAsync(Org, "runner@acme.test");
        await using (var db = Db())
            await Members.AssignFloatingAsync(db, Org, runner);
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, runner);
        ApiKey = await Server.Service<LicenseService>().CreateApiKeyAsync(membership!, "faults");
        Http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
    }

    [TearDown]
    public void EnsureDatabaseRunsAndDisposeHttp()
    {
        Http.Dispose();
        if (!_cluster.IsRunning()) _cluster.Start(); // a test that failed half-way must not leave the next without a database
    }

    /// <summary>pg_ctl stop -m fast: open connections are told 57P01 and closed; new ones are refused.</summary>
    protected void StopDatabase() => _cluster.Stop();

    protected void StartDatabase() => _cluster.Start();

    /// <summary>
    /// Fills the server's connection pool with idle connections (its 6), as a busy server has: after a
    /// database restart every one of them is dead and the next command on it fails.
    /// </summary>
    protected async Task FillPoolAsync()
    {
        var db = Server.Service<NpgsqlDataSource>();
        var connections = await Task.WhenAll(Enumerable.Range(0, DataServiceCollectionExtensions.DefaultMaxPoolSize).Select(async _ =>
        {
            var connection = await db.OpenConnectionAsync();
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync();
            return connection;
        }));
        foreach (var connection in connections) await connection.DisposeAsync();
    }

    /// <summary>One HTTP exchange as the client saw it: when it started and ended (since the test began), and what came back.</summary>
    protected sealed record Answer(string Kind, TimeSpan Start, TimeSpan End, int Status, string? ContentType, string? RetryAfter, string Body, string? Csp = null)
    {
        public string? Code => ContentType?.StartsWith("application/problem+json", StringComparison.Ordinal) == true
            ? System.Text.Json.JsonDocument.Parse(Body).RootElement.GetProperty("code").GetString()
            : null;

        public override string ToString() => $"{Kind} {Status} at {Start.TotalSeconds:0.00}-{End.TotalSeconds:0.00}s {ContentType} {Code} {(Body.Length > 160 ? Body[..160] : Body)}";
    }

    protected static async Task<Answer> ExchangeAsync(string kind, Stopwatch clock, Func<Task<HttpResponseMessage>> send)
    {
        var start = clock.Elapsed;
        try
        {
            using var response = await send();
            var body = await response.Content.ReadAsStringAsync();
            return new Answer(kind, start, clock.Elapsed, (int)response.StatusCode, response.Content.Headers.ContentType?.ToString(),
                response.Headers.RetryAfter?.ToString(), body,
                response.Headers.TryGetValues("Content-Security-Policy", out var csp) ? string.Join(", ", csp) : null);
        }
        catch (HttpRequestException e)
        {
            return new Answer(kind, start, clock.Elapsed, 0, null, null, "no answer: " + e.Message);
        }
    }

    protected HttpRequestMessage Checkout(Guid sessionId, string machine = "FAULT-1", string process = "1") =>
        new(HttpMethod.Post, "/api/v1/sessions")
        {
            Headers = { { "X-Api-Key", ApiKey } },
            Content = JsonContent.Create(new { product = "KRE", machineId = machine, processId = process, sessionId }),
        };

    protected HttpRequestMessage Heartbeat(Guid sessionId) =>
        new(HttpMethod.Put, $"/api/v1/sessions/{sessionId}/heartbeat") { Headers = { { "X-Api-Key", ApiKey } } };

    protected HttpRequestMessage Release(Guid sessionId) =>
        new(HttpMethod.Delete, $"/api/v1/sessions/{sessionId}") { Headers = { { "X-Api-Key", ApiKey } } };

    protected async Task<string> BearerTokenAsync(string email)
    {
        using var kit = new LicenseServer.Client.KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey);
        return (await kit.LoginAsync(email, Password)).Token;
    }

    protected static HttpRequestMessage WithBearer(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return request;
    }
}
