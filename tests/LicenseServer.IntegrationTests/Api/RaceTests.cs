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

    /// <summary>The requests are spread over the nodes in turn; each answer is kept with the node that gave it.</summary>
    private static async Task<(int Granted, IReadOnlyList<string> Refusals, IReadOnlyList<(int Granted, int Refused)> PerNode)> RaceAsync(
        IReadOnlyList<string> nodes, string apiKey, int requests)
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
                    return (Node: i % clients.Count, Result: "ok");
                }
                catch (KitApiException e)
                {
                    return (Node: i % clients.Count, Result: e.Code);
                }
            });
            var results = await Task.WhenAll(attempts);
            var perNode = Enumerable.Range(0, clients.Count)
                .Select(n => (results.Count(r => r.Node == n && r.Result == "ok"), results.Count(r => r.Node == n && r.Result != "ok"))).ToList();
            return (results.Count(r => r.Result == "ok"), results.Where(r => r.Result != "ok").Select(r => r.Result).Distinct().ToList(), perNode);
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
        var (granted, refusals, _) = await RaceAsync([Server.BaseUrl], key, 500);
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
        // Both nodes check out and release once first, so that neither races with its checkout path still cold.
        foreach (var node in new[] { Server.BaseUrl, second.BaseUrl })
        {
            using var warm = new KitClient(new Uri(node)) { ApiKey = key };
            await (await warm.CheckoutAsync("KRE", "RUNNER-0", "warm", autoHeartbeat: false)).DisposeAsync();
        }
        var (granted, refusals, perNode) = await RaceAsync([Server.BaseUrl, second.BaseUrl], key, 500);
        TestContext.Progress.WriteLine($"seats granted by each node: {string.Join(", ", perNode.Select(n => n.Granted))}");
        Assert.That(granted, Is.EqualTo(50), second.Output);
        Assert.That(refusals, Is.EqualTo(new[] { "quota_exceeded" }));
        // Each process answered its half, and each granted seats: the race really ran over both.
        Assert.That(perNode.Select(n => n.Granted + n.Refused), Is.EqualTo(new[] { 250, 250 }));
        Assert.That(perNode.Select(n => n.Granted), Has.All.GreaterThan(0), string.Join(", ", perNode));
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(50));
        await AssertPoolCountsExactAsync();
    }
}
