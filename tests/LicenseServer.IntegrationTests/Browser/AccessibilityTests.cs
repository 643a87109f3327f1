using System.Text.Json;
using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Playwright;
using Npgsql;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>
/// axe (Deque's accessibility engine, run in Chromium) finds no serious or critical violation on any console
/// page: every page the server maps, found in its endpoint data source so that a new page is checked without
/// anyone listing it, signed in as the server admin who owns an organization with data on every list; and the
/// pages of someone signed out.
/// </summary>
public class AccessibilityTests : BrowserTest
{
    [Test]
    public async Task Axe_finds_no_serious_or_critical_violation_on_any_page()
    {
        await using var server = await SignedInServerAsync();
        var org = await CreateOrganizationAsync(server, "ACME Access", ("KSE", 5), ("KRE", 5));
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        long team, member;
        await using (var db = new NpgsqlConnection(server.ConnectionString))
        {
            var members = await Members.AddAsync(db, org, 2, "reader");
            team = await db.ExecuteScalarAsync<long>("INSERT INTO team (organization_id, name) VALUES (@org, 'Readers') RETURNING id", new { org });
            foreach (var (product, email) in new[] { ("KSE", members[0]), ("KRE", members[1]) })
                using (await http.PostFormAsync($"/Organizations/{org}/Licenses?product={product}&handler=Assign", new Dictionary<string, string> { ["emails"] = email },
                           tokenPage: $"/Organizations/{org}/Licenses?product={product}")) { }
            member = await db.ExecuteScalarAsync<long>("SELECT id FROM public.user_account WHERE email = @email", new { email = members[1] });
            await db.ExecuteAsync("""
                INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, expires_at)
                SELECT gen_random_uuid(), @org, 'KRE', id, 'CI-01', '4242', now() + interval '5 minutes' FROM public.user_account WHERE email = @email;
                INSERT INTO floating_machine (organization_id, product_code, machine_id) VALUES (@org, 'KRE', 'CI-01');
                UPDATE product_allocation SET floating_live = floating_live + 1 WHERE organization_id = @org AND product_code = 'KRE';
                """, new { org, email = members[1] });
        }

        var routeValues = new Dictionary<string, string> { ["orgId"] = $"{org}", ["teamId"] = $"{team}", ["userId"] = $"{member}" };
        var pages = (await ConsoleEndpoints.AllAsync(server))
            .Where(h => h.HttpMethod == "GET" && h.Name is null && !h.Route.Contains("{", StringComparison.Ordinal) || h.HttpMethod == "GET" && h.Name is null && h.Route.Contains("{orgId", StringComparison.Ordinal))
            .Select(h => h.Url(routeValues)).Distinct().ToList();
        // The first product (KRE, floating) is the default tab; the per-user product shows other lists.
        pages.AddRange([$"/Organizations/{org}/Licenses?product=KSE", $"/Organizations/{org}/Usage?product=KSE"]);
        Assert.That(pages, Has.Count.GreaterThan(20), "the walk finds the console's pages");

        // Four tabs at a time, so that one page's wait for the server overlaps another's check.
        var signedIn = await CheckAllAsync(Context, pages.Select(p => (server.BaseUrl + p, p)));
        var anonymous = await (await SharedBrowser.GetAsync()).NewContextAsync();
        var signedOut = await CheckAllAsync(anonymous, new[] { "/Account/SignIn", "/Account/ForgotPassword", "/Account/ResetPassword?token=not-a-token", "/Invitation?token=not-a-token" }
            .Select(p => (server.BaseUrl + p, p + " (signed out)")));
        await anonymous.CloseAsync();
        var findings = signedIn.Concat(signedOut).ToList();
        Assert.That(findings, Is.Empty, string.Join("\n", findings));
    }

    private static readonly Lazy<string> AxeSource = new(() =>
    {
        using var stream = typeof(Deque.AxeCore.Commons.AxeResult).Assembly.GetManifestResourceStream("Deque.AxeCore.Commons.Resources.axe.min.js")
            ?? throw new InvalidOperationException("Deque.AxeCore.Commons no longer bundles axe.min.js under that name.");
        return new StreamReader(stream).ReadToEnd();
    });

    private static async Task<IEnumerable<string>> CheckAllAsync(IBrowserContext context, IEnumerable<(string Url, string Name)> pages)
    {
        var queue = new System.Collections.Concurrent.ConcurrentQueue<(string Url, string Name)>(pages);
        var findings = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            var tab = await context.NewPageAsync();
            while (queue.TryDequeue(out var next))
                foreach (var finding in await CheckAsync(tab, next.Url, next.Name)) findings.Add(finding);
            await tab.CloseAsync();
        }));
        return findings.Order();
    }

    private static async Task<IEnumerable<string>> CheckAsync(IPage page, string url, string name)
    {
        var response = await page.GotoAsync(url);
        Assert.That(response?.Status, Is.LessThan(500), $"{name} answered {response?.Status}"); // a refused link is a page too
        // axe-core as the Deque package bundles it, run in the page itself: the package's RunAxe finishes each
        // check in a new blank page, which costs several times the check on this machine.
        await page.EvaluateAsync(AxeSource.Value);
        var violations = await page.EvaluateAsync<JsonElement>("""
            async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
                .map(v => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(' ')) }))
            """);
        return violations.EnumerateArray().Where(v => v.GetProperty("impact").GetString() is "serious" or "critical")
            .Select(v => $"{name}: {v.GetProperty("impact")} {v.GetProperty("id")}: {v.GetProperty("help")} at {string.Join(", ", v.GetProperty("targets").EnumerateArray())}")
            .ToList();
    }
}
