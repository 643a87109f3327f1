using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Organizations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Usage;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>Samples of seats in use taken from real checkouts, the peak, refusals, and the CSV of the chart's rows.</summary>
public partial class UsageTests : LicenseTest
{
    // Hourly buckets keep the background sampler out of the way (it would first run an hour from now);
    // the tests take samples themselves and move the clock by hours, so sessions must outlive that.
    protected override string[] ServerSettings => ["--Kit:Usage:SampleSeconds=3600", "--Kit:Clients:SessionLeaseSeconds=86400"];
    protected override LicenseServer.Core.Activation.VendorLimits LicenseLimits => new(SessionLeaseSeconds: 86400);

    private string UsagePage(string product = "KRE", string period = "24h") => $"/Organizations/{Org}/Usage?product={product}&period={period}";

    private async Task<string> ApiKeyAsync(string email = "runner@acme.test")
    {
        var userId = await AddMemberAsync(Org, email);
        var membership = await Server.Service<OrganizationRepository>().MembershipAsync(Org, userId);
        return await Members.EngineKeyAsync(Server, membership!, "ci");
    }

    /// <summary>Moves the clock an hour on and samples: one bucket per call.</summary>
    private async Task<DateTime> SampleAnHourLaterAsync()
    {
        Clock.Offset += TimeSpan.FromHours(1);
        var written = await Server.Service<UsageSampler>().SampleNowAsync();
        Assert.That(written, Is.EqualTo(2), "one sample per share: KSE and KRE");
        return UsageSampler.Bucket(Clock.GetUtcNow(), TimeSpan.FromHours(1)).UtcDateTime;
    }

    [Test]
    public async Task The_usage_page_shows_the_samples_of_real_checkouts_their_peak_and_refusals_and_the_CSV_has_the_charts_rows()
    {
        Assert.That(await Admin.GetTextAsync(UsagePage()), Does.Contain("data-testid=\"no-samples\"").And.Contain("No usage samples of KRE"));
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = await ApiKeyAsync() };
        var sessions = new List<FloatingSession>();
        async Task Checkout(string machine) => sessions.Add(await kit.CheckoutAsync("KRE", machine, "1", autoHeartbeat: false));

        await Checkout("M1");
        await Checkout("M2");
        await SampleAnHourLaterAsync();
        await Checkout("M3");
        await Checkout("M4");
        var peakAt = await SampleAnHourLaterAsync();
        foreach (var session in sessions.Take(3)) await kit.ReleaseAsync(session.Id);
        await SampleAnHourLaterAsync();
        await Checkout("M5");
        var refused = Assert.ThrowsAsync<KitApiException>(() => kit.CheckoutAsync("KRE", "M6", "1", autoHeartbeat: false))!;
        Assert.That(refused.Code, Is.EqualTo("machine_limit"), "five machines are registered: the quota");

        var admin = await SignedInAsync(AdminEmail); // the clock moved past the console session's idle time
        var html = WebUtility.HtmlDecode(await admin.GetTextAsync(UsagePage()));
        Assert.That(Cell(html, "sample-count"), Is.EqualTo("3"));
        Assert.That(Cell(html, "peak"), Is.EqualTo("4"));
        Assert.That(Cell(html, "peak-at"), Is.EqualTo(peakAt.ToString("yyyy-MM-dd HH:mm")));
        Assert.That(Cell(html, "refusal-count"), Is.EqualTo("1"));
        Assert.That(html, Does.Contain("<code>machine_limit</code>").And.Contain("runner@acme.test").And.Contain("M6"));
        var points = PointsPattern().Match(html).Groups[1].Value.Split(' ');
        Assert.That(points, Has.Length.EqualTo(3), "one point per sample");

        using var csvResponse = await admin.GetAsync(UsagePage() + "&handler=Csv");
        Assert.That(csvResponse.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/csv"));
        var csv = (await csvResponse.Content.ReadAsStringAsync()).TrimStart('\uFEFF').Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(csv[0], Is.EqualTo(UsageService.CsvHeader));
        await using var db = Db();
        var stored = (await db.QueryAsync<(DateTime At, int InUse, int Quota)>(
            "SELECT sampled_at, in_use, quota FROM usage_sample WHERE organization_id = @Org AND product_code = 'KRE' ORDER BY sampled_at", new { Org })).ToList();
        Assert.That(csv.Skip(1), Is.EqualTo(stored.Select(s => $"{s.At:yyyy-MM-dd HH:mm:ss},KRE,{s.InUse},{s.Quota}")));
        Assert.That(stored.Select(s => s.InUse), Is.EqualTo(new[] { 2, 4, 1 }));

        Assert.That(Cell(WebUtility.HtmlDecode(await admin.GetTextAsync(UsagePage("KSE"))), "refusal-count"), Is.EqualTo("0"), "refusals are per product");
    }

    [Test]
    public async Task Several_nodes_sampling_the_same_moment_write_one_sample()
    {
        var sampler = Server.Service<UsageSampler>();
        Clock.Offset += TimeSpan.FromHours(1);
        Assert.That(await sampler.SampleNowAsync(), Is.EqualTo(2));
        await using var other = await TestServer.StartAsync(Clock, Server.ConnectionString, null, ServerSettings);
        Assert.That(await other.Service<UsageSampler>().SampleNowAsync(), Is.Zero, "the bucket is taken");
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM usage_sample"), Is.EqualTo(2));
    }

    [Test]
    public async Task Refused_console_grants_and_activations_are_recorded_but_other_mistakes_are_not()
    {
        await AllocateAsync(Org, "KSE", 1);
        var users = await MembersAsync(2);
        using (var refused = await AssignAsync(Admin, string.Join(",", users)))
            Assert.That(await ConsoleClient.TextOf(refused), Does.Contain("not enough for 2"));
        using (await AssignAsync(Admin, "nobody@acme.test")) { }
        using (var granted = await AssignAsync(Admin, users[0])) Assert.That(granted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        await using (var db = Db()) await db.ExecuteAsync("UPDATE user_account SET password = @hash WHERE email = @email",
            new { hash = PasswordHashes.Of(Password), email = users[0] });
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await kit.LoginAsync(users[0], Password);
        await kit.ActivateAsync(Org, "KSE", "LAPTOP-1");
        await kit.ActivateAsync(Org, "KSE", "LAPTOP-2");
        var limit = Assert.ThrowsAsync<KitApiException>(() => kit.ActivateAsync(Org, "KSE", "LAPTOP-3"))!;
        Assert.That(limit.Code, Is.EqualTo("machine_limit"));

        await using var check = Db();
        var rows = (await check.QueryAsync<(string Product, string Code, string? MachineId)>(
            "SELECT product_code, code, machine_id FROM seat_refusal WHERE organization_id = @Org ORDER BY id", new { Org })).ToList();
        Assert.That(rows, Is.EqualTo(new[] { ("KSE", "quota_exceeded", (string?)null), ("KSE", "machine_limit", "LAPTOP-3") }));
        var html = WebUtility.HtmlDecode(await Admin.GetTextAsync(UsagePage("KSE", "7d")));
        Assert.That(Cell(html, "refusal-count"), Is.EqualTo("2"));
        Assert.That(html, Does.Contain("LAPTOP-3").And.Contain("<code>quota_exceeded</code>"));
    }

    [Test]
    public async Task Usage_is_for_those_who_manage_licenses()
    {
        await AddMemberAsync(Org, "viewer@acme.test");
        await AddMemberAsync(Org, "manager@acme.test", canManageLicenses: true);
        var viewer = await SignedInAsync("viewer@acme.test");
        var manager = await SignedInAsync("manager@acme.test");
        using (var forbidden = await viewer.GetAsync(UsagePage()))
            Assert.That(forbidden.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        using (var csv = await viewer.GetAsync(UsagePage() + "&handler=Csv"))
            Assert.That(csv.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await viewer.GetTextAsync($"/Organizations/{Org}"), Does.Not.Contain($"/Organizations/{Org}/Usage\""));
        Assert.That(await manager.GetTextAsync($"/Organizations/{Org}"), Does.Contain($"/Organizations/{Org}/Usage\""));
        using (var ok = await manager.GetAsync(UsagePage()))
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using (var unknown = await manager.GetAsync(UsagePage("NOPE")))
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    private static string Cell(string html, string testId) =>
        Regex.Match(html, $"data-testid=\"{testId}\">([^<]*)<").Groups[1].Value;

    [GeneratedRegex("data-testid=\"usage-line\" points=\"([^\"]*)\"")]
    private static partial Regex PointsPattern();
}
