using System.Collections.Concurrent;
using System.Net.Http.Json;
using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Faults;

/// <summary>
/// The built server killed with SIGKILL in the middle of checkouts, releases and grants, and started
/// again on the same database: every request that was answered with a success is there, nothing is
/// half-written, and seats in use stay within the quota.
/// </summary>
// Alone (see Parallelism.cs): the kill must land while checkouts and grants are both under way, which depends on
// how fast each runs; other tests loading the machine would shift that.
[NonParallelizable]
public class CrashTests : LicenseTest
{
    [Test]
    public async Task A_server_killed_mid_load_keeps_every_answered_checkout_and_grant_and_nothing_half_written()
    {
        var now = DateTimeOffset.UtcNow;
        await Server.Service<ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [LicenseIssuer.ParseProduct("KSE:per-user:60:annual:Studio Enterprise", now.AddDays(365)),
                        LicenseIssuer.ParseProduct("KRE:floating:40:annual:Runtime Engine", now.AddDays(365))],
        }, issuedAt: now));
        await AllocateAsync(Org, "KSE", 60);
        await AllocateAsync(Org, "KRE", 40);
        List<string> grantees;
        await using (var setup = Db()) grantees = await Members.AddAsync(setup, Org, 120, "grantee");
        var runner = await AddMemberAsync(Org, "runner@acme.test");
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, runner);
        var apiKey = await Members.EngineKeyAsync(Server, membership!, "crash");

        var node = await ServerProcess.StartAsync(Server.ConnectionString);
        using var console = new ConsoleClient(node.BaseUrl);
        using (var signIn = await console.SignInAsync(AdminEmail, Password))
            Assert.That((int)signIn.StatusCode, Is.EqualTo(302), "the admin signs in on the node");
        var form = await console.TokenAsync(Page());
        using var http = new HttpClient { BaseAddress = new Uri(node.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };

        var taken = new ConcurrentBag<Guid>();      // 201
        var released = new ConcurrentBag<Guid>();   // 204 after its 201
        var releasing = new ConcurrentBag<Guid>();  // a release with no answer: it may or may not have landed
        var refused = new ConcurrentBag<Guid>();    // 4xx
        var unanswered = new ConcurrentBag<Guid>(); // no answer: killed before or while it ran
        var granted = new ConcurrentBag<string[]>();
        var grantsRefused = new ConcurrentBag<string[]>();
        var grantsUnanswered = new ConcurrentBag<string[]>();
        var nextPair = -1;
        var killed = false;

        async Task CheckoutLoopAsync(int worker)
        {
            for (var i = 0; ; i++)
            {
                var id = Guid.NewGuid();
                int status;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions")
                    {
                        Headers = { { "X-Api-Key", apiKey } },
                        Content = JsonContent.Create(new { product = "KRE", machineId = $"CRASH-{worker}", processId = $"{worker}-{i}", sessionId = id }),
                    };
                    using var response = await http.SendAsync(request);
                    status = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    unanswered.Add(id);
                    return;
                }
                if (status != 201)
                {
                    Assert.That(status, Is.InRange(400, 499), "a checkout refused with a 4xx, or taken");
                    refused.Add(id);
                    continue;
                }
                taken.Add(id);
                if (i % 3 != 0) continue;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/sessions/{id}") { Headers = { { "X-Api-Key", apiKey } } };
                    using var response = await http.SendAsync(request);
                    if (response.StatusCode == System.Net.HttpStatusCode.NoContent) released.Add(id);
                }
                catch (HttpRequestException)
                {
                    releasing.Add(id);
                    return;
                }
            }
        }

        async Task GrantLoopAsync()
        {
            for (var n = Interlocked.Increment(ref nextPair); n * 2 + 1 < grantees.Count; n = Interlocked.Increment(ref nextPair))
            {
                var pair = new[] { grantees[n * 2], grantees[n * 2 + 1] };
                try
                {
                    // Two members in one request: all or nothing.
                    using var response = await console.Http.PostAsync(Page() + "&handler=Assign", new FormUrlEncodedContent(new Dictionary<string, string>
                        { ["emails"] = string.Join(", ", pair), ["__RequestVerificationToken"] = form }));
                    (response.StatusCode == System.Net.HttpStatusCode.Redirect ? granted : grantsRefused).Add(pair);
                }
                catch (HttpRequestException)
                {
                    grantsUnanswered.Add(pair);
                    return;
                }
            }
            Assert.That(killed, "the grants ran out before the server was killed");
        }

        var load = Enumerable.Range(0, 6).Select(CheckoutLoopAsync).Append(GrantLoopAsync()).Append(GrantLoopAsync()).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((taken.Count < 30 || granted.Count < 4) && DateTime.UtcNow < deadline && !load.Any(t => t.IsCompleted)) await Task.Delay(20);
        Assert.That(load.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!.Message), Is.Empty);
        Assert.That(taken.Count >= 30 && granted.Count >= 4, $"the load got going before the kill: {taken.Count} checkouts, {granted.Count} grants");
        killed = true;
        await node.KillAsync();
        await Task.WhenAll(load);
        await node.DisposeAsync();
        TestContext.Progress.WriteLine($"killed with {taken.Count} taken, {released.Count} released, {refused.Count} refused, {unanswered.Count} unanswered checkouts; " +
                                       $"{granted.Count} granted, {grantsRefused.Count} refused, {grantsUnanswered.Count} unanswered grants");

        await using var restarted = await ServerProcess.StartAsync(Server.ConnectionString);
        await using var db = Db();
        var sessions = (await db.QueryAsync<(Guid Id, bool Live, bool Ended)>(
            "SELECT id, ended_at IS NULL AND expires_at > now(), ended_at IS NOT NULL FROM floating_session")).ToDictionary(s => s.Id);
        Assert.That(taken.Where(id => !sessions.ContainsKey(id)), Is.Empty, "checkouts answered 201 but lost");
        Assert.That(taken.Except(released).Except(releasing).Where(id => !sessions[id].Live), Is.Empty, "seats answered 201 and never released are no longer live");
        Assert.That(released.Where(id => !sessions[id].Ended), Is.Empty, "releases answered 204 but lost");
        Assert.That(refused.Where(sessions.ContainsKey), Is.Empty, "refused checkouts that left a session");
        Assert.That(sessions.Keys.Where(id => !taken.Contains(id) && !unanswered.Contains(id)), Is.Empty, "sessions nobody asked for");

        var assigned = (await db.QueryAsync<string>("""
            SELECT u.email FROM license_assignment a JOIN user_account u ON u.id = a.user_id WHERE a.organization_id = @Org AND a.product_code = 'KSE'
            """, new { Org })).ToHashSet();
        var audited = (await db.QueryAsync<string>("SELECT subject FROM audit_event WHERE organization_id = @Org AND action = 'license.assigned'", new { Org })).ToHashSet();
        Assert.That(granted.SelectMany(p => p).Where(e => !assigned.Contains(e)), Is.Empty, "grants answered with success but lost");
        Assert.That(grantsRefused.SelectMany(p => p).Where(assigned.Contains), Is.Empty, "refused grants that were stored");
        Assert.That(grantsUnanswered.Where(p => assigned.Contains(p[0]) != assigned.Contains(p[1])).Select(p => string.Join(", ", p)), Is.Empty,
            "a grant of two members half-written");
        Assert.That(assigned.SetEquals(audited), "each assignment has its audit entry, and each entry its assignment");

        // The pools' counts agree with their sessions, no session is without its pool, and no pool is over its quota.
        var drift = await db.QueryAsync<string>("""
            SELECT p.product_code FROM product_allocation p
            WHERE p.floating_live <> (SELECT count(*) FROM floating_session s WHERE s.organization_id = p.organization_id AND s.product_code = p.product_code AND s.counted)
            """);
        Assert.That(drift, Is.Empty, "pools whose count drifted from their sessions");
        Assert.That(await db.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM floating_session s
            WHERE NOT EXISTS (SELECT 1 FROM product_allocation p WHERE p.organization_id = s.organization_id AND p.product_code = s.product_code)
            """), Is.Zero, "sessions without their pool");
        var over = await db.QueryAsync<string>("""
            SELECT p.product_code FROM product_allocation p
            WHERE kit_seats_not_floating(p.organization_id, p.product_code, now())
                + (SELECT count(*) FROM floating_session s WHERE s.organization_id = p.organization_id AND s.product_code = p.product_code
                     AND s.ended_at IS NULL AND s.expires_at > now()) > p.quota
            """);
        Assert.That(over, Is.Empty, "pools over their quota");

        // The restarted server carries on with the sessions taken before the crash: one of those checked above to be
        // live (a session whose release went unanswered may have been released, and would rightly answer 410).
        var survivor = taken.Except(released).Except(releasing).First();
        using var again = new HttpClient { BaseAddress = new Uri(restarted.BaseUrl) };
        using (var beat = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/sessions/{survivor}/heartbeat") { Headers = { { "X-Api-Key", apiKey } } })
        using (var response = await again.SendAsync(beat))
            Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
    }

}
