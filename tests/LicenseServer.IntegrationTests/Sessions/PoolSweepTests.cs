using LicenseServer.Client;

namespace LicenseServer.IntegrationTests.Sessions;

/// <summary>
/// A floating seat that a session gave back (released, or ended by an admin) is anyone's again at once, however
/// recently the pool's count was last brought up to date, and a seat reserved for a team is decided on the seats
/// really in use. Each step runs through the client API on a clock the test moves, milliseconds apart, as the
/// checkouts of a busy pool arrive.
/// </summary>
public class PoolSweepTests : SeatRuleTest
{
    private DateTimeOffset _t0;

    private void At(double seconds) => Clock.SetNow(_t0.AddSeconds(seconds));

    [SetUp]
    public void StopTheClock() => Clock.Stop(_t0 = DateTimeOffset.UtcNow.AddMinutes(1));

    /// <summary>Checkout number <paramref name="n"/>, on one of three machines (a pool registers at most its quota of machines).</summary>
    private static Task<FloatingSession> CheckoutAsync(KitClient client, int n) =>
        client.CheckoutAsync("KRE", $"CI-{(n - 1) % 3 + 1}", $"p{n}", autoHeartbeat: false);

    [Test]
    public async Task A_released_seat_is_granted_again_at_once_and_never_more_than_the_quota()
    {
        await AllocateAsync(Org, "KRE", 3);
        await AddMemberAsync(Org, "runner@acme.test");
        using var runner = await ApiKeyClientAsync("runner@acme.test");

        At(0);
        var a = await CheckoutAsync(runner, 1);
        At(0.05);
        await runner.ReleaseAsync(a.Id);
        At(0.1);
        var b = await CheckoutAsync(runner, 2);
        At(0.3);
        var c = await CheckoutAsync(runner, 3);
        At(0.32);
        await runner.ReleaseAsync(b.Id);
        await runner.ReleaseAsync(c.Id);
        At(0.35);
        await CheckoutAsync(runner, 4);
        At(0.4);
        await CheckoutAsync(runner, 5);
        At(0.45);
        await CheckoutAsync(runner, 6);
        At(0.5);
        Assert.That(Refused(() => CheckoutAsync(runner, 7)).Code, Is.EqualTo("quota_exceeded"), "three live sessions, three seats");
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session WHERE organization_id = @Org AND ended_at IS NULL", new { Org }), Is.EqualTo(3));
    }

    [Test]
    public async Task A_seat_reserved_for_a_team_is_decided_on_the_seats_really_in_use()
    {
        await AllocateAsync(Org, "KRE", 2);
        await AddMemberAsync(Org, "qa@acme.test");
        await AddMemberAsync(Org, "runner@acme.test");
        using (var reserved = await ReserveAsync(await TeamAsync("QA", ["qa@acme.test"]), "KRE", 1)) Redirected(reserved);
        using var runner = await ApiKeyClientAsync("runner@acme.test");

        At(0);
        var a = await CheckoutAsync(runner, 1);
        At(0.05);
        Assert.That(Refused(() => CheckoutAsync(runner, 2)).Code, Is.EqualTo("reserved"), "one seat is anyone's, the other QA's");
        At(0.08);
        await runner.ReleaseAsync(a.Id);
        At(0.1);
        Assert.DoesNotThrowAsync(() => CheckoutAsync(runner, 3), "the seat A gave back is anyone's again at once");
    }
}
