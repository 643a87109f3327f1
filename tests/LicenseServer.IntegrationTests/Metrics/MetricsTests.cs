using System.Net;
using System.Net.Http.Json;
using System.Text;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Api;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Metrics;

/// <summary>/metrics against real traffic: counters move by exactly what was done, gauges match the database.</summary>
public class MetricsTests : LicenseTest
{
    private HttpClient _http = null!;

    [SetUp]
    public void NewHttpClient() => _http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };

    [TearDown]
    public void DisposeHttpClient() => _http.Dispose();

    private async Task<PrometheusScrape> ScrapeAsync()
    {
        using var response = await _http.GetAsync("/metrics");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.ToString(), Is.EqualTo("text/plain; version=0.0.4; charset=utf-8"));
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }

    private async Task<string> ApiKeyForAsync(string email)
    {
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, await UserIdAsync(email));
        return await Members.EngineKeyAsync(Server, membership!, "metrics test");
    }

    private async Task<HttpResponseMessage> CheckoutAsync(string key, HttpContent body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions") { Content = body };
        request.Headers.Add(ClientApi.ApiKeyHeader, key);
        return await _http.SendAsync(request);
    }

    private static JsonContent Checkout(string product, int process) => JsonContent.Create(new { product, machineId = "CI-01", processId = process.ToString() });

    private static (string, string)[] Series(string route, string method, string status) => [("route", route), ("method", method), ("status", status)];

    [Test]
    public async Task Checkouts_granted_and_refused_move_the_counters_by_exactly_that_and_seats_in_use_match_the_database()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyForAsync("runner@acme.test");
        var kse = await MembersAsync(2);
        using (var assigned = await AssignAsync(Admin, string.Join(",", kse)))
            Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        const string checkouts = "/api/v1/sessions";
        var before = await ScrapeAsync();
        Assert.That(before.Value("kit_checkouts_granted_total"), Is.Zero, "a new node has granted nothing");

        var sessions = new List<Guid>();
        for (var process = 1; process <= 5; process++)
        {
            using var granted = await CheckoutAsync(key, Checkout("KRE", process));
            Assert.That(granted.StatusCode, Is.EqualTo(HttpStatusCode.Created), await granted.Content.ReadAsStringAsync());
            sessions.Add((await granted.Content.ReadFromJsonAsync<SessionResponse>(ClientApi.Json))!.SessionId);
        }
        var refusals = new (string Code, Func<Task<HttpResponseMessage>> Send)[]
        {
            ("quota_exceeded", () => CheckoutAsync(key, Checkout("KRE", 6))),
            ("quota_exceeded", () => CheckoutAsync(key, Checkout("KRE", 7))),
            ("api_key_invalid", () => CheckoutAsync("kit_abcdefgh_" + new string('x', 43), Checkout("KRE", 8))),
            ("unknown_product", () => CheckoutAsync(key, Checkout("NOPE", 9))),
            ("invalid_request", () => CheckoutAsync(key, new StringContent("{\"product\":", Encoding.UTF8, "application/json"))),
        };
        foreach (var (code, send) in refusals)
        {
            using var refused = await send();
            Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain($"\"code\":\"{code}\""));
        }

        var after = await ScrapeAsync();
        Assert.That(after.Value("kit_checkouts_granted_total") - before.Value("kit_checkouts_granted_total"), Is.EqualTo(5));
        var refusedDeltas = after.Find("kit_checkouts_refused_total")
            .Select(s => (Code: s.Labels["code"], Delta: s.Value - before.Value("kit_checkouts_refused_total", ("code", s.Labels["code"]))))
            .Where(d => d.Delta != 0).ToDictionary(d => d.Code, d => d.Delta);
        Assert.That(refusedDeltas, Is.EquivalentTo(new Dictionary<string, double>
        {
            ["quota_exceeded"] = 2, ["api_key_invalid"] = 1, ["unknown_product"] = 1, ["invalid_request"] = 1,
        }));
        var created = after.Value("kit_http_request_duration_seconds_count", Series(checkouts, "POST", "2xx")) - before.Value("kit_http_request_duration_seconds_count", Series(checkouts, "POST", "2xx"));
        var refusedRequests = after.Value("kit_http_request_duration_seconds_count", Series(checkouts, "POST", "4xx")) - before.Value("kit_http_request_duration_seconds_count", Series(checkouts, "POST", "4xx"));
        Assert.That((created, refusedRequests), Is.EqualTo((5.0, 5.0)), "the latency histogram saw each checkout once, by status class");
        Assert.That(after.Value("kit_http_request_duration_seconds_sum", Series(checkouts, "POST", "2xx")), Is.GreaterThan(0));
        var buckets = after.Find("kit_http_request_duration_seconds_bucket", Series(checkouts, "POST", "2xx")).Select(s => s.Labels["le"]).ToList();
        Assert.That(buckets, Is.EqualTo(new[] { "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf" }));

        var org = ("organization_id", Org.ToString());
        Assert.That(after.Value("kit_seats_in_use", org, ("product", "KRE")), Is.EqualTo(5), "five live sessions");
        Assert.That(after.Value("kit_seats_in_use", org, ("product", "KSE")), Is.EqualTo(2), "two assignments");
        Assert.That(after.Value("kit_seats_share", org, ("product", "KRE")), Is.EqualTo(5));
        Assert.That(after.Value("kit_seats_share", org, ("product", "KSE")), Is.EqualTo(10));
        Assert.That(after.Value("kit_license_seats", ("product", "KRE")), Is.EqualTo(5));
        Assert.That(after.Value("kit_license_seats", ("product", "KSE")), Is.EqualTo(10));
        Assert.That(after.Value("kit_organization_info", org, ("name", "ACME QA")), Is.EqualTo(1));
        Assert.That(after.Value("kit_database_up"), Is.EqualTo(1));
        Assert.That(after.Value("kit_license_valid_until_seconds"), Is.EqualTo(DateTimeOffset.UtcNow.AddDays(365).ToUnixTimeSeconds()).Within(120));

        // The gauge is read from the database at scrape time: a release shows at once.
        var release = new HttpRequestMessage(HttpMethod.Delete, $"{checkouts}/{sessions[0]}");
        release.Headers.Add(ClientApi.ApiKeyHeader, key);
        using (var released = await _http.SendAsync(release)) Assert.That(released.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        var later = await ScrapeAsync();
        Assert.That(later.Value("kit_seats_in_use", org, ("product", "KRE")), Is.EqualTo(4));
        Assert.That(later.Value("kit_checkouts_granted_total"), Is.EqualTo(after.Value("kit_checkouts_granted_total")), "a release is not a checkout");
        Assert.That(later.Value("kit_http_request_duration_seconds_count", Series("/api/v1/sessions/{sessionId:guid}", "DELETE", "2xx")), Is.EqualTo(1));
    }

    [Test]
    public async Task Requests_are_labelled_by_route_template_and_an_error_page_keeps_the_route_it_came_from()
    {
        var second = await CreateOrganizationAsync(Admin, "Second");
        foreach (var org in new[] { Org, second })
            using (var page = await Admin.GetAsync($"/Organizations/{org}/Licenses")) Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using (var missing = await Admin.GetAsync("/no-such-page")) Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        using (var other = await Admin.GetAsync("/Organizations/987654/Users")) Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));

        var scrape = await ScrapeAsync();
        var routes = scrape.Find("kit_http_request_duration_seconds_count").Select(s => s.Labels["route"]).Distinct().ToList();
        Assert.That(routes, Has.None.Contain(Org.ToString()).And.None.Contain("987654").And.None.Contain("no-such-page"), "no path values in labels: the series stay few");
        var licenses = routes.Single(r => r.StartsWith("/Organizations/{", StringComparison.Ordinal) && r.EndsWith("/Licenses", StringComparison.Ordinal));
        Assert.That(scrape.Value("kit_http_request_duration_seconds_count", Series(licenses, "GET", "2xx")), Is.EqualTo(2), "both organizations' pages in one series");
        Assert.That(scrape.Value("kit_http_request_duration_seconds_count", Series("unmatched", "GET", "4xx")), Is.EqualTo(1), "the 404 of a path no route matched");
        var users = routes.Single(r => r.StartsWith("/Organizations/{", StringComparison.Ordinal) && r.EndsWith("/Users", StringComparison.Ordinal));
        Assert.That(scrape.Value("kit_http_request_duration_seconds_count", Series(users, "GET", "4xx")), Is.EqualTo(1), "a 404 page keeps the route it was refused on, not /Error");
        Assert.That(routes, Does.Not.Contain("/Error"), "the error page a request is re-executed into is not a series of its own");
    }

    [Test]
    public async Task The_runtime_and_ASP_NET_Core_series_are_there_and_the_jit_counters_say_how_much_the_node_has_compiled()
    {
        var first = await ScrapeAsync();
        using (var page = await Admin.GetAsync($"/Organizations/{Org}/Licenses")) Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var second = await ScrapeAsync();
        foreach (var name in new[] { "dotnet_jit_compiled_methods_total", "dotnet_jit_compilation_seconds_total" })
        {
            Assert.That(second.Types[name], Is.EqualTo("counter"), name);
            Assert.That(second.Value(name), Is.GreaterThanOrEqualTo(first.Value(name)), name);
        }
        Assert.That(first.Value("dotnet_jit_compiled_methods_total"), Is.GreaterThan(1000), "a running server has compiled thousands of methods");
        Assert.That(first.Value("dotnet_jit_compilation_seconds_total"), Is.GreaterThan(0.1));

        Assert.That(second.Types["dotnet_gc_collections_total"], Is.EqualTo("counter"), "the runtime's own series");
        Assert.That(second.Value("process_resident_memory_bytes"), Is.GreaterThan(10_000_000));
        var licenses = second.Find("http_server_request_duration_seconds_count", ("http_route", "Organizations/{orgId:long}/Licenses"), ("http_request_method", "GET"));
        Assert.That(licenses.Sum(s => s.Value), Is.EqualTo(1), "ASP.NET Core's own request histogram, by route");
        Assert.That(second.Types, Does.ContainKey("kestrel_active_connections"));
    }

    [Test]
    public async Task A_scraper_that_asks_for_OpenMetrics_gets_it()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        using var response = await _http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/openmetrics-text"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(text, Does.Contain("kit_seats_in_use{").And.EndWith("# EOF\n"));
    }

    /// <summary>
    /// The .NET runtime names four gauges of counts "..._count" (loaded assemblies, processors, thread-pool threads,
    /// timers), which Prometheus keeps for histograms; they keep the runtime's names, which dashboards made for .NET use.
    /// </summary>
    private static readonly string[] RuntimeNamesPromtoolObjectsTo = ["dotnet_assembly_count", "dotnet_process_cpu_count", "dotnet_thread_pool_thread_count", "dotnet_timer_count"];

    [Test]
    public async Task Promtool_finds_nothing_to_object_to_in_a_scrape_after_real_traffic()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyForAsync("runner@acme.test");
        using (var granted = await CheckoutAsync(key, Checkout("KRE", 1))) Assert.That(granted.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        using (var refused = await CheckoutAsync(key, Checkout("NOPE", 2))) Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        using (var page = await Admin.GetAsync($"/Organizations/{Org}/Licenses")) Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var text = await _http.GetStringAsync("/metrics");

        var promtool = new System.Diagnostics.ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = System.Diagnostics.Process.Start(promtool)!;
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        var findings = (await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        await process.WaitForExitAsync();
        Assert.That(findings.Where(f => !RuntimeNamesPromtoolObjectsTo.Any(name => f.StartsWith(name + " ", StringComparison.Ordinal))), Is.Empty);
        Assert.That(text, Does.Contain("kit_seats_in_use{").And.Contain("kit_checkouts_refused_total{").And.Contain("kit_http_request_duration_seconds_bucket{"),
            "the scrape holds the series promtool was to judge");
    }
}
