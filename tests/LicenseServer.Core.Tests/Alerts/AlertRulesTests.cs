using System.Text;
using LicenseServer.Core.Alerts;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Core.Tests.Alerts;

public class AlertRulesTests
{
    [TestCase(3, 5, 60, true)]
    [TestCase(2, 5, 60, false)]
    [TestCase(5, 5, 100, true)]
    [TestCase(1, 3, 34, false)]
    [TestCase(0, 0, 1, false)]
    public void The_threshold_is_reached_at_or_above_its_share_of_the_quota(int inUse, int quota, int threshold, bool reached) =>
        Assert.That(AlertRules.Reached(inUse, quota, threshold), Is.EqualTo(reached));

    [Test]
    public void The_signature_is_the_hex_HMAC_SHA256_of_the_body()
    {
        // RFC 4231 test case 2.
        var signature = AlertRules.Signature("Jefe", Encoding.ASCII.GetBytes("what do ya want for nothing?"));
        Assert.That(signature, Is.EqualTo("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    }

    [Test]
    public void Only_refusals_for_lack_of_seats_or_limits_count_as_seat_refusals()
    {
        Assert.That(new LicenseRuleException("quota_exceeded", "").IsSeatRefusal());
        Assert.That(new LicenseRuleException("machine_limit", "").IsSeatRefusal());
        Assert.That(new LicenseRuleException("unknown_product", "").IsSeatRefusal(), Is.False);
        Assert.That(new LicenseRuleException("busy", "").IsSeatRefusal(), Is.False);
    }
}
