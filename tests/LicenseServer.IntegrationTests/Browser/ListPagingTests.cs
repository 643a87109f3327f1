using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Web.Activation;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Playwright;
using Npgsql;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>The lists that grow with the customer show 50 rows a page, with search and sort kept in the address.</summary>
public class ListPagingTests : BrowserTest
{
    [Test]
    public async Task License_Management_pages_searches_and_sorts_120_live_sessions_and_keeps_each_list_s_state_in_the_address()
    {
        await using var server = await SignedInServerAsync();
        var org = await OrganizationWithSharesAsync(server);
        await using (var db = new NpgsqlConnection(server.ConnectionString))
        {
            var users = await Members.AddAsync(db, org, 3, "runner");
            await db.ExecuteAsync("""
                INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, expires_at)
                SELECT gen_random_uuid(), @org, 'KRE', (SELECT id FROM public.user_account WHERE email = @email), 'CI-' || lpad(i::text, 3, '0'), (1000 + i)::text,
                       now() - (i || ' seconds')::interval, now() + interval '5 minutes'
                FROM generate_series(0, 119) i;
                INSERT INTO floating_machine (organization_id, product_code, machine_id) SELECT @org, 'KRE', 'CI-' || lpad(i::text, 3, '0') FROM generate_series(0, 119) i;
                UPDATE product_allocation SET floating_live = floating_live + 120 WHERE organization_id = @org AND product_code = 'KRE';
                """, new { org, email = users[0] });
        }
        await Page.GotoAsync($"{server.BaseUrl}/Organizations/{org}/Licenses?product=KRE");
        var sessions = Page.GetByTestId("sessions").Locator("tbody tr");
        Assert.That(await sessions.CountAsync(), Is.EqualTo(50));
        Assert.That(await Page.GetByTestId("sessions-total").InnerTextAsync(), Is.EqualTo("120 in all"));
        Assert.That(await Page.GetByTestId("registered-machines").InnerTextAsync(), Is.EqualTo("120"), "the count is the total, not the page's rows");
        Assert.That(await sessions.First.InnerTextAsync(), Does.Contain("CI-119"), "oldest first by default");

        await Page.Locator("nav[aria-label='Pages of sessions'] >> text=Next").ClickAsync();
        Assert.That(await sessions.First.InnerTextAsync(), Does.Contain("CI-069"));
        Assert.That(Page.Url, Does.Contain("sessions-page=2"));

        await Page.Locator("[data-testid=sessions] th a[data-sort=machine]").ClickAsync();
        Assert.That(await sessions.First.InnerTextAsync(), Does.Contain("CI-000"), "a new sort starts at the first page");
        Assert.That(await Page.Locator("[data-testid=sessions] th[aria-sort=ascending]").InnerTextAsync(), Is.EqualTo("Machine"));
        await Page.Locator("[data-testid=sessions] th a[data-sort=machine]").ClickAsync();
        Assert.That(await sessions.First.InnerTextAsync(), Does.Contain("CI-119"));
        Assert.That(await Page.Locator("[data-testid=sessions] th[aria-sort=descending]").InnerTextAsync(), Is.EqualTo("Machine"));

        // Another list's state stays while this one is searched and paged.
        await Page.Locator("[data-testid=floating-machines] th a[data-sort=machine]").ClickAsync();
        await Page.FillAsync("#sessions-q", "ci-07");
        await Page.Locator("form[aria-label='Search sessions'] button").ClickAsync();
        Assert.That(await sessions.CountAsync(), Is.EqualTo(10));
        Assert.That(await Page.GetByTestId("sessions-total").InnerTextAsync(), Is.EqualTo("10 matching “ci-07”"));
        Assert.That(await sessions.First.InnerTextAsync(), Does.Contain("CI-079"), "the search keeps the sort");
        Assert.That(await Page.Locator("[data-testid=floating-machines] tbody tr").First.InnerTextAsync(), Does.Contain("CI-000"), "the other list keeps its sort");

        await Page.ReloadAsync();
        Assert.That(await sessions.CountAsync(), Is.EqualTo(10), "a reload shows the same");
        Assert.That(await Page.InputValueAsync("#sessions-q"), Is.EqualTo("ci-07"));

        await Page.GotoAsync($"{server.BaseUrl}/Organizations/{org}/Licenses?product=KRE&sessions-q=%25&sessions-sort=x;DROP&sessions-page=99");
        Assert.That(await Page.GetByTestId("sessions-total").InnerTextAsync(), Is.EqualTo("0 matching “%”"), "% is a character to find, not a wildcard");
        await Page.GotoAsync($"{server.BaseUrl}/Organizations/{org}/Licenses?product=KRE&sessions-sort=x;DROP&sessions-page=99");
        Assert.That(await Page.Locator("nav[aria-label='Pages of sessions']").InnerTextAsync(), Does.Contain("Page 3 of 3"), "a page past the end shows the last");
        Assert.That(await sessions.CountAsync(), Is.EqualTo(20));
    }

    [Test]
    public async Task Users_pages_searches_and_sorts_members_and_licensed_users()
    {
        await using var server = await SignedInServerAsync();
        var org = await OrganizationWithSharesAsync(server);
        List<string> emails;
        await using (var db = new NpgsqlConnection(server.ConnectionString)) emails = await Members.AddAsync(db, org, 120, "member");

        await Page.GotoAsync($"{server.BaseUrl}/Organizations/{org}/Users");
        var members = Page.GetByTestId("members").Locator("tbody tr");
        Assert.That(await members.CountAsync(), Is.EqualTo(50));
        Assert.That(await Page.GetByTestId("members-total").InnerTextAsync(), Is.EqualTo("121 in all"));
        Assert.That(await members.First.InnerTextAsync(), Does.Contain(AdminEmail), "Owners first");

        await Page.Locator("[data-testid=members] th a[data-sort=email]").ClickAsync();
        await Page.Locator("[data-testid=members] th a[data-sort=email]").ClickAsync();
        Assert.That(await members.First.InnerTextAsync(), Does.StartWith("member9@acme.test"), "descending by email ('@' sorts after the digits)");
        await Page.FillAsync("#members-q", "MEMBER11");
        await Page.Locator("form[aria-label='Search members'] button").ClickAsync();
        Assert.That(await members.AllInnerTextsAsync(), Has.Count.EqualTo(11).And.All.Contain("member11"), "member11, member110 … member119");
        Assert.That(Page.Url, Does.Contain("members-q=MEMBER11").And.Contain("members-sort=-email"));

        // Licensed Users of a per-user product: 60 assigned, searched by email.
        await Page.GotoAsync($"{server.BaseUrl}/Organizations/{org}/Licenses?product=KSE");
        await Page.FillAsync("#emails", string.Join(", ", emails.Take(60)));
        await Page.ClickAsync("button:has-text('Assign License')");
        Assert.That(await Page.GetByTestId("licensed-users-total").CountAsync(), Is.Zero, "the key is the list's, not the card's test id");
        Assert.That(await Page.GetByTestId("users-total").InnerTextAsync(), Is.EqualTo("60 in all"));
        Assert.That(await Page.GetByTestId("licensed-users").Locator("tbody tr").CountAsync(), Is.EqualTo(50));
        await Page.FillAsync("#users-q", "member5");
        await Page.Locator("form[aria-label='Search licensed users'] button").ClickAsync();
        Assert.That(await Page.GetByTestId("licensed-users").Locator("tbody tr").AllInnerTextsAsync(), Has.Count.EqualTo(11), "member5, member50 … member59");
    }

    /// <summary>An organization with 100 KSE and 200 KRE seats, from a license that holds them.</summary>
    private async Task<long> OrganizationWithSharesAsync(TestServer server)
    {
        var now = DateTimeOffset.UtcNow;
        await server.Service<ActivationService>().ActivateAsync(await server.LicenseAsync(o => o with
        {
            Products =
            [
                LicenseIssuer.ParseProduct("KSE:per-user:100:annual:Studio Enterprise", now.AddDays(365)),
                LicenseIssuer.ParseProduct("KRE:floating:200:annual:Runtime Engine", now.AddDays(365)),
            ],
        }, issuedAt: now));
        return await CreateOrganizationAsync(server, "ACME Scale", ("KSE", 100), ("KRE", 200));
    }
}
