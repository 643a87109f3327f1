using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Api;

/// <summary>The seat rule under load: 500 concurrent checkouts for a floating product with quota 50.</summary>
public class RaceTests : LicenseTestBase
{
    private async Task<string> PrepareAsync()
    {
        var now = DateTimeOffset.UtcNow;
        await Server.Service<ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [o.Products[0], LicenseIssuer.ParseProduct("KRE:floating:50:annual:Runtime Engine", now.AddDays(365))],
        }, issuedAt: now));
        await AllocateAsync(Org, "KRE", 50);
        var userId = await AddMemberAsync(Org, "runner@acme.test");
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, userId);
        return await Server.Service<LicenseService>().CreateApiKeyAsync(membership!, "load");
    }

    private static async Task<(int Granted, IReadOnlyList<string> Refusals)> RaceAsync(IReadOnlyList<string> nodes, string apiKey, int requests)
    {
        var clients = nodes.Select(n => new KitClient(new Uri(n)) { ApiKey = apiKey, BusyRetries = 50 }).ToList();
        try
        {
            var attempts = Enumerable.Range(0, requests).Select(async i =>
            {
                try
                {
                    // Machines are few (the quota caps registered machines); processes are many.
                    await clients[i % clients.Count].CheckoutAsync("KRE", $"RUNNER-{i % 40}", $"{i}", autoHeartbeat: false);
                    return "ok";
                }
                catch (KitApiException e)
                {
                    return e.Code;
                }
            });
            var results = await Task.WhenAll(attempts);
            return (results.Count(r => r == "ok"), results.Where(r => r != "ok").Distinct().ToList());
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private async Task<long> LiveSessionsAsync()
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > now()");
    }

    /// <summary>Each pool's count, which a checkout reads instead of counting sessions, matches its counted sessions.</summary>
    private async Task AssertPoolCountsExactAsync()
    {
        await using var db = Db();
        var drift = await db.QueryAsync<(string, int, long)>("""
            SELECT p.product_code, p.floating_live, (SELECT count(*) FROM floating_session s
                WHERE s.organization_id = p.organization_id AND s.product_code = p.product_code AND s.counted)
            FROM product_allocation p
            """);
        Assert.That(drift.Where(d => d.Item2 != d.Item3), Is.Empty, "pools whose count drifted");
    }

    [Test]
    public async Task Checkouts_releases_and_expiries_racing_keep_the_pool_count_exact()
    {
        var apiKey = await PrepareAsync();
        using var client = new KitClient(new Uri(Server.BaseUrl)) { ApiKey = apiKey, BusyRetries = 50 };
        var first = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => client.CheckoutAsync("KRE", $"RUNNER-{i % 10}", $"a{i}", autoHeartbeat: false)));
        // Ten releases (one of them twice) race twenty new checkouts.
        var releases = first.Take(10).Select(s => s.DisposeAsync().AsTask()).Append(client.ReleaseAsync(first[0].Id));
        var more = Enumerable.Range(0, 20).Select(i => client.CheckoutAsync("KRE", $"RUNNER-{i % 10}", $"b{i}", autoHeartbeat: false));
        await Task.WhenAll(releases.Concat(more.Select(t => (Task)t)));
        await AssertPoolCountsExactAsync();
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(40));

        // Every lease runs out: the next checkout ends them all (no sweeper needed) and counts one seat.
        Clock.Offset = TimeSpan.FromMinutes(10);
        await client.CheckoutAsync("KRE", "RUNNER-0", "c", autoHeartbeat: false);
        await AssertPoolCountsExactAsync();
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<int>("SELECT floating_live FROM product_allocation WHERE organization_id = @Org AND product_code = 'KRE'", new { Org }), Is.EqualTo(1));
    }

    [Test]
    public async Task Five_hundred_concurrent_checkouts_for_fifty_seats_grant_exactly_fifty()
    {
        var key = await PrepareAsync();
        var (granted, refusals) = await RaceAsync([Server.BaseUrl], key, 500);
        Assert.That(granted, Is.EqualTo(50));
        Assert.That(refusals, Is.EqualTo(new[] { "quota_exceeded" }));
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(50));
        await AssertPoolCountsExactAsync();
    }

    [Test]
    public async Task Five_hundred_concurrent_checkouts_over_two_server_processes_grant_exactly_fifty()
    {
        var key = await PrepareAsync();
        await using var second = await ServerProcess.StartAsync(Server.ConnectionString);
        var (granted, refusals) = await RaceAsync([Server.BaseUrl, second.BaseUrl], key, 500);
        Assert.That(granted, Is.EqualTo(50), second.Output);
        Assert.That(refusals, Is.EqualTo(new[] { "quota_exceeded" }));
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(50));
        await AssertPoolCountsExactAsync();
    }
}
