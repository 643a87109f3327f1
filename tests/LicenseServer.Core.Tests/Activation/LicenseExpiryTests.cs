using LicenseServer.Core.Activation;

namespace LicenseServer.Core.Tests.Activation;

public sealed class LicenseExpiryTests
{
    private static readonly DateTimeOffset End = new(2027, 6, 30, 12, 0, 0, TimeSpan.Zero);

    [TestCase(31, null)]
    [TestCase(30, 30)]
    [TestCase(8, 30)]
    [TestCase(7, 7)]
    [TestCase(2, 7)]
    [TestCase(1, 1)]
    [TestCase(0, 0)]
    [TestCase(-3, 0)]
    public void Warning_steps_at_30_7_and_1_days_and_after_the_end(int daysBefore, int? threshold)
    {
        var warnings = LicenseExpiry.Warnings([new ExpiringItem("license", "The server's license", End)], End.AddDays(-daysBefore));
        Assert.That(warnings.SingleOrDefault()?.Threshold, Is.EqualTo(threshold));
    }

    [Test]
    public void Part_of_a_day_counts_as_a_whole_day_left()
    {
        Assert.That(LicenseExpiry.DaysLeft(End, End.AddDays(-30).AddHours(6)), Is.EqualTo(30));
        Assert.That(LicenseExpiry.DaysLeft(End, End.AddHours(-1)), Is.EqualTo(1));
        Assert.That(LicenseExpiry.DaysLeft(End, End), Is.EqualTo(0));
    }

    [Test]
    public void The_most_urgent_item_comes_first_and_says_when()
    {
        var warnings = LicenseExpiry.Warnings(
        [
            new ExpiringItem("license", "The server's license", End),
            new ExpiringItem("KSE", "Studio Enterprise (KSE)", End.AddDays(-20)),
            new ExpiringItem("KRE", "Runtime Engine (KRE)", End.AddDays(200)),
        ], End.AddDays(-25));
        Assert.That(warnings.Select(w => w.Item.Subject), Is.EqualTo(new[] { "KSE", "license" }));
        Assert.That(warnings[0].Message, Is.EqualTo("Studio Enterprise (KSE) expires in 5 days, on 2027-06-10 12:00 UTC. Ask your vendor for a renewed license file."));
        Assert.That(LicenseExpiry.Warnings([new ExpiringItem("KSE", "Studio Enterprise (KSE)", End)], End.AddSeconds(1))[0].Message,
            Does.StartWith("Studio Enterprise (KSE) expired on 2027-06-30 12:00 UTC."));
    }
}
