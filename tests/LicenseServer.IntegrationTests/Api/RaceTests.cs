using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Api;

/// <summary>The seat rule under load: 500 concurrent checkouts for a floating product with quota 50.</summary>
// Alone (see Parallelism.cs): hundreds of checkouts at once that must all end granted or quota_exceeded; with other
// tests loading the machine, some could use up their busy retries.
[NonParallelizable]
public class RaceTests : LicenseTest
{
    private async Task<string> PrepareAsync(int quota = 50)
    {
        var now = DateTimeOffset.UtcNow;
        await Server.Service<ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [o.Products[0], LicenseIssuer.ParseProduct("KRE:floating:50:annual:Runtime Engine", now.AddDays(365))],
        }, issuedAt: now));
        await AllocateAsync(Org, "KRE", quota);
        return await ApiKeyAsync(Org, "runner@acme.test");
    }

    private async Task<string> ApiKeyAsync(long organizationId, string email)
    {
        var userId = await AddMemberAsync(organizationId, email);
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(organizationId, userId);
        return await Members.EngineKeyAsync(Server, membership!, "load");
    }

    /// <summary>A checkout over HTTP, proposing <paramref name="sessionId"/>: the session id granted, or the refusal's code.</summary>
    private async Task<(Guid? SessionId, string? Code)> CheckoutAsync(string apiKey, string machineId, string processId, Guid? sessionId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Server.BaseUrl + "/api/v1/sessions")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { product = "KRE", machineId, processId, sessionId }),
        };
        request.Headers.Add("X-Api-Key", apiKey);
        using var response = await Http.SendAsync(request);
        using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return response.StatusCode == System.Net.HttpStatusCode.Created
            ? (body.RootElement.GetProperty("sessionId").GetGuid(), null)
            : (null, body.RootElement.GetProperty("code").GetString());
    }

    private static readonly HttpClient Http = new();

    /// <summary>The requests are spread over the nodes in turn; each answer is kept with the node that gave it.</summary>
    private static async Task<(int Granted, IReadOnlyList<string> Refusals, IReadOnlyList<(int Granted, int Refused)> PerNode)> RaceAsync(
        IReadOnlyList<string> nodes, string apiKey, int requests)
    {
        var clients = nodes.Select(n => new KitClient(new Uri(n), TestServer.Vendor.PublicKey) { ApiKey = apiKey, BusyRetries = 50 }).ToList();
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
        using var client = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = apiKey, BusyRetries = 50 };
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

    /// <summary>
    /// Checkouts that arrive together go to the database in batches, one transaction each. A burst over two
    /// organizations, some of whose calls propose the id of a live session of the other organization (a
    /// statement error that rolls its batch back), still answers each call as if it had been alone.
    /// </summary>
    [Test]
    public async Task A_burst_over_two_organizations_with_foreign_session_ids_answers_each_checkout_as_alone()
    {
        var acme = await PrepareAsync(quota: 30);
        var otherOrg = await CreateOrganizationAsync(Admin, "Other");
        await AllocateAsync(otherOrg, "KRE", 20);
        var other = await ApiKeyAsync(otherOrg, "runner@other.test");
        var foreign = (await CheckoutAsync(other, "OTHER-0", "first")).SessionId!.Value;

        // 40 calls of ACME (30 seats), half of them proposing the other organization's session id; 30 of Other (19 seats left).
        var calls = Enumerable.Range(0, 70).Select(async i => i % 7 < 4
            ? (Org: "acme", Proposed: i % 2 == 0, Result: await CheckoutAsync(acme, $"RUNNER-{i % 10}", $"a{i}", i % 2 == 0 ? foreign : null))
            : (Org: "other", Proposed: false, Result: await CheckoutAsync(other, $"OTHER-{i % 10}", $"o{i}"))).ToList();
        var results = await Task.WhenAll(calls);

        var acmeResults = results.Where(r => r.Org == "acme").Select(r => r.Result).ToList();
        var otherResults = results.Where(r => r.Org == "other").Select(r => r.Result).ToList();
        Assert.That(acmeResults.Count(r => r.SessionId is not null), Is.EqualTo(30));
        Assert.That(otherResults.Count(r => r.SessionId is not null), Is.EqualTo(19));
        Assert.That(results.Where(r => r.Result.SessionId is null).Select(r => r.Result.Code).Distinct(), Is.EqualTo(new[] { "quota_exceeded" }));
        // A proposed id held by another organization's session is never given out: its caller got a new one.
        Assert.That(results.Where(r => r.Proposed).Select(r => r.Result.SessionId), Has.None.EqualTo(foreign));
        Assert.That(results.Select(r => r.Result.SessionId).OfType<Guid>().Distinct().Count(), Is.EqualTo(49));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT organization_id FROM floating_session WHERE id = @foreign AND ended_at IS NULL", new { foreign }),
            Is.EqualTo(otherOrg));
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE organization_id = @Org AND ended_at IS NULL", new { Org }), Is.EqualTo(30));
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE organization_id = @otherOrg AND ended_at IS NULL", new { otherOrg }), Is.EqualTo(20));
        await AssertPoolCountsExactAsync();
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
            using var warm = new KitClient(new Uri(node), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = key };
            await (await warm.CheckoutAsync("KRE", "RUNNER-0", "warm", autoHeartbeat: false)).DisposeAsync();
        }
        var (granted, refusals, perNode) = await RaceAsync([Server.BaseUrl, second.BaseUrl], key, 500);
        TestContext.Progress.WriteLine($"seats granted by each node: {string.Join(", ", perNode.Select(n => n.Granted))}");
        Assert.That(granted, Is.EqualTo(50), second.Output);
        Assert.That(refusals, Is.EqualTo(new[] { "quota_exceeded" }));
        // Each process answered its half: 50 seats in all, so both decided on the same pool. (Which node grants
        // how many is up to the race: one node's first batch of checkouts can take every seat.)
        Assert.That(perNode.Select(n => n.Granted + n.Refused), Is.EqualTo(new[] { 250, 250 }), string.Join(", ", perNode));
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(50));
        await AssertPoolCountsExactAsync();
    }
}
