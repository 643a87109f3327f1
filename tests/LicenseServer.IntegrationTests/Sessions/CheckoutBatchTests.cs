using LicenseServer.Client;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Sessions;

/// <summary>
/// Checkouts that arrive together are decided in batches, one pool after the other, each batch leaving its sessions
/// and counts to be written at its end: through the client API, a burst over several pools grants exactly each
/// pool's seats, a team's reserved seat goes to the team, and the counts the batches wrote let exactly the freed
/// seats be taken again.
/// </summary>
public class CheckoutBatchTests : SeatRuleTest
{
    private async Task<KitClient> KeyClientAsync(long organizationId, string email)
    {
        var membership = await Server.Service<OrganizationRepository>().MembershipAsync(organizationId, await UserIdAsync(email));
        return new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock)
        {
            ApiKey = await Members.EngineKeyAsync(Server, membership!, "batch test key"),
        };
    }

    /// <summary>Fires the checkouts at once; the sessions granted, and the codes of those refused.</summary>
    private static async Task<(List<FloatingSession> Granted, List<string> Refused)> BurstAsync(KitClient client, string machine, int count, string prefix)
    {
        var calls = Enumerable.Range(0, count).Select(i => client.CheckoutAsync("KRE", machine, $"{prefix}{i}", autoHeartbeat: false)).ToList();
        await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { })));
        return (calls.Where(c => c.IsCompletedSuccessfully).Select(c => c.Result).ToList(),
            calls.Where(c => c.IsFaulted).Select(c => ((KitApiException)c.Exception!.InnerException!).Code).ToList());
    }

    [Test]
    public async Task A_burst_over_two_pools_grants_each_its_seats_and_a_freed_seat_is_taken_exactly_once()
    {
        await AllocateAsync(Org, "KRE", 3);
        var other = await CreateOrganizationAsync(Admin, "Other");
        await AllocateAsync(other, "KRE", 2);
        await AddMemberAsync(Org, "runner@acme.test");
        await AddMemberAsync(other, "runner@other.test");
        using var mine = await KeyClientAsync(Org, "runner@acme.test");
        using var theirs = await KeyClientAsync(other, "runner@other.test");

        var bursts = await Task.WhenAll(BurstAsync(mine, "CI-1", 15, "a"), BurstAsync(theirs, "CI-9", 15, "b"));
        Assert.That(bursts.Select(b => b.Granted.Count), Is.EqualTo(new[] { 3, 2 }), "each pool's seats, no more");
        Assert.That(bursts.SelectMany(b => b.Refused).Distinct(), Is.EqualTo(new[] { "quota_exceeded" }));

        await mine.ReleaseAsync(bursts[0].Granted[0].Id);
        var again = await Task.WhenAll(BurstAsync(mine, "CI-1", 10, "c"), BurstAsync(theirs, "CI-9", 10, "d"));
        Assert.That(again.Select(b => b.Granted.Count), Is.EqualTo(new[] { 1, 0 }), "the freed seat once; the full pool none");
    }

    [Test]
    public async Task A_burst_with_a_teams_reserved_seat_leaves_that_seat_to_the_team()
    {
        await AllocateAsync(Org, "KRE", 3);
        await AddMemberAsync(Org, "qa@acme.test");
        await AddMemberAsync(Org, "runner@acme.test");
        using (var reserved = await ReserveAsync(await TeamAsync("QA", ["qa@acme.test"]), "KRE", 1)) Redirected(reserved);
        using var qa = await ApiKeyClientAsync("qa@acme.test");
        using var runner = await ApiKeyClientAsync("runner@acme.test");

        var bursts = await Task.WhenAll(BurstAsync(runner, "CI-1", 20, "r"), BurstAsync(qa, "QA-1", 1, "q"));

        Assert.That((bursts[0].Granted.Count, bursts[1].Granted.Count), Is.EqualTo((2, 1)), "the reserved seat went to QA whichever call came first");
        Assert.That(bursts[0].Refused.Distinct().Order(), Is.SubsetOf(new[] { "quota_exceeded", "reserved" }));
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session WHERE ended_at IS NULL"), Is.EqualTo(3));
    }
}
