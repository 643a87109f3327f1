using LicenseServer.Client;
using LicenseServer.Data.Organizations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Usage;

namespace LicenseServer.IntegrationTests.Browser;

public class UsageFlowTests : BrowserTest
{
    [Test]
    public async Task The_usage_chart_draws_the_samples_of_real_checkouts_with_the_peak()
    {
        // A clock the test moves, hourly samples (the background sampler stays out of the way) and
        // sessions that outlive the hours the clock moves.
        var clock = new TestClock();
        await using var server = await TestServer.StartAsync(clock, null, null, "--Kit:Usage:SampleSeconds=3600", "--Kit:Clients:SessionLeaseSeconds=86400");
        await server.Service<ActivationService>().ActivateAsync(await server.LicenseAsync(limits: new(SessionLeaseSeconds: 86400)));
        await server.Service<AccountService>().CreateDefaultAccountAsync(AdminEmail, AdminPassword, AdminPassword);
        using var http = new ConsoleClient(server.BaseUrl);
        (await http.SignInAsync(AdminEmail, AdminPassword)).Dispose();
        using var created = await http.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = "ACME QA" });
        var org = created.RedirectPath();
        var orgId = long.Parse(org.Split('/')[^1]);
        using (await http.PostFormAsync("/Admin/Licenses", new Dictionary<string, string> { ["organizationId"] = orgId.ToString(), ["product"] = "KRE", ["quota"] = "5" })) { }
        var adminId = (await server.Service<LicenseServer.Data.Accounts.UserAccountRepository>().FindByEmailAsync(AdminEmail))!.Id;
        var membership = await server.Service<OrganizationRepository>().MembershipAsync(orgId, adminId);
        using var kit = new KitClient(new Uri(server.BaseUrl), TestServer.Vendor.PublicKey, clock: clock) { ApiKey = await Members.EngineKeyAsync(server, membership!, "ci") };

        var sampler = server.Service<UsageSampler>();
        var inUse = new[] { 1, 3, 2, 4 };
        var sessions = new List<FloatingSession>();
        foreach (var wanted in inUse)
        {
            while (sessions.Count < wanted) sessions.Add(await kit.CheckoutAsync("KRE", $"M{sessions.Count + 1}", "1", autoHeartbeat: false));
            while (sessions.Count > wanted)
            {
                await kit.ReleaseAsync(sessions[^1].Id);
                sessions.RemoveAt(sessions.Count - 1);
            }
            clock.Offset += TimeSpan.FromHours(1);
            await sampler.SampleNowAsync();
        }
        var peakAt = UsageSampler.Bucket(clock.GetUtcNow(), TimeSpan.FromHours(1));

        await Page.GotoAsync(server.BaseUrl + "/Account/SignIn");
        await Page.FillAsync("#email", AdminEmail);
        await Page.FillAsync("#password", AdminPassword);
        await Page.ClickAsync("button:has-text('Sign in')");
        await Page.GotoAsync(server.BaseUrl + org);
        await Page.ClickAsync("nav.tabs >> text=Usage");
        await Page.ClickAsync("nav[aria-label=Products] >> text=KRE");

        var chart = Page.GetByTestId("usage-chart");
        Assert.That(await chart.IsVisibleAsync(), "the chart is drawn");
        var box = await chart.BoundingBoxAsync();
        Assert.That(box!.Width, Is.GreaterThan(300), "site.css sizes the chart (no inline style is allowed)");
        var points = (await Page.GetByTestId("usage-line").GetAttributeAsync("points"))!.Split(' ');
        Assert.That(points, Has.Length.EqualTo(inUse.Length), "one point per sample");
        var ys = points.Select(p => double.Parse(p.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(ys.IndexOf(ys.Min()), Is.EqualTo(3), "the highest point is the fourth sample (SVG y grows downwards)");
        Assert.That(await Page.GetByTestId("quota-line").GetAttributeAsync("points"), Is.Not.Empty);
        Assert.That(await Page.GetByTestId("peak").InnerTextAsync(), Is.EqualTo("4"));
        Assert.That(await Page.GetByTestId("peak-at").InnerTextAsync(), Is.EqualTo(peakAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm")));
        Assert.That(await Page.GetByTestId("sample-count").InnerTextAsync(), Is.EqualTo("4"));
        Assert.That(await Page.Locator("[data-testid=usage-chart] text").CountAsync(), Is.GreaterThan(3), "axis labels are SVG text");

        await Page.ClickAsync("nav[aria-label=Period] >> text=Last 7 days");
        Assert.That(await Page.GetByTestId("sample-count").InnerTextAsync(), Is.EqualTo("4"));
        var download = await Page.RunAndWaitForDownloadAsync(() => Page.ClickAsync("[data-testid=csv]"));
        var csv = (await File.ReadAllLinesAsync((await download.PathAsync())!)).Where(l => l.Length > 0).ToList();
        Assert.That(csv.Skip(1).Select(l => int.Parse(l.Split(',')[2])), Is.EqualTo(inUse));
    }
}
