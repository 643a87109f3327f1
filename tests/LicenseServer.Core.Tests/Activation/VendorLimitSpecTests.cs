using LicenseServer.Core.Activation;

namespace LicenseServer.Core.Tests.Activation;

public class VendorLimitSpecTests
{
    [Test]
    public void A_product_limit_names_the_product_the_limit_and_its_value() =>
        Assert.That(VendorLimitSpec.ParseProductLimit("kse.LeaseDays=3"), Is.EqualTo(("KSE", "leaseDays", 3)));

    [TestCase("KSE.leaseDays", "write CODE.name=value")]
    [TestCase("leaseDays=3", "write CODE.name=value")]
    [TestCase("KSE.=3", "write CODE.name=value")]
    [TestCase("KSE.leaseHours=3", "there is no limit \"leaseHours\"")]
    [TestCase("KSE.leaseDays=0", "from 1 to 3650")]
    [TestCase("KSE.leaseDays=-1", "from 1 to 3650")]
    [TestCase("KSE.leaseDays=seven", "from 1 to 3650")]
    [TestCase("KSE.leaseDays=3651", "from 1 to 3650")]
    [TestCase("KSE.sessionLeaseSeconds=99999999999", "whole number of seconds")]
    public void A_bad_product_limit_is_refused_with_a_sentence(string spec, string says)
    {
        var e = Assert.Throws<FormatException>(() => VendorLimitSpec.ParseProductLimit(spec))!;
        Assert.That(e.Message, Does.StartWith($"--limit {spec}").And.Contain(says).And.EndWith("."));
    }

    [Test]
    public void Limits_add_up_and_one_given_twice_is_refused()
    {
        var limits = VendorLimitSpec.With(null, "leaseDays", 3, "x");
        limits = VendorLimitSpec.With(limits, "machinesPerUser", 1, "x");
        Assert.That(limits, Is.EqualTo(new VendorLimits(LeaseDays: 3, MachinesPerUser: 1)));
        Assert.That(() => VendorLimitSpec.With(limits, "LEASEDAYS", 4, "--limit KSE.leaseDays"),
            Throws.TypeOf<FormatException>().With.Message.EqualTo("--limit KSE.leaseDays: leaseDays is given twice."));
    }

    [Test]
    public void A_product_takes_its_own_limit_then_the_license_wide_one_then_the_default()
    {
        var kse = LicenseIssuer.ParseProduct("KSE:per-user:10:perpetual", null) with { Limits = new VendorLimits(LeaseDays: 3) };
        var kre = LicenseIssuer.ParseProduct("KRE:floating:5:perpetual", null);
        var payload = new LicensePayload(Guid.NewGuid(), "v", "c", null, null, null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, null, [kse, kre],
            new VendorLimits(LeaseDays: 5, SessionLeaseSeconds: 120));
        Assert.That(payload.LimitsFor(kse), Is.EqualTo(ProductLimits.Defaults with { LeaseDays = 3, SessionLeaseSeconds = 120 }));
        Assert.That(payload.LimitsFor(kre), Is.EqualTo(ProductLimits.Defaults with { LeaseDays = 5, SessionLeaseSeconds = 120 }));
        Assert.That(VendorLimitSpec.Describe(payload.LimitsFor(kse), ProductKind.PerUser),
            Is.EqualTo("lease 3 days, 2 machines per user, 10 activations in 30 days"));
        Assert.That(VendorLimitSpec.Describe(payload.LimitsFor(kre), ProductKind.Floating), Is.EqualTo("session lease 120 seconds"));
    }
}
