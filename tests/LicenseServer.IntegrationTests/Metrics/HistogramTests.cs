using System.Diagnostics;
using LicenseServer.Web.Metrics;

namespace LicenseServer.IntegrationTests.Metrics;

public class HistogramTests
{
    private static long Ticks(double seconds) => (long)Math.Round(seconds * Stopwatch.Frequency);

    [Test]
    public void A_value_counts_in_every_bucket_whose_bound_it_does_not_exceed()
    {
        var histogram = new Histogram();
        histogram.Observe(Ticks(0.001));   // exactly on a bound: le is inclusive
        histogram.Observe(Ticks(0.003));
        histogram.Observe(Ticks(0.3));
        histogram.Observe(Ticks(60));      // above the largest bound: +Inf only
        var (cumulative, sum) = histogram.Snapshot();
        var byBound = Histogram.Bounds.Select((b, i) => (b, cumulative[i])).ToDictionary(x => x.b, x => x.Item2);
        Assert.Multiple(() =>
        {
            Assert.That(byBound[0.001], Is.EqualTo(1));
            Assert.That(byBound[0.0025], Is.EqualTo(1));
            Assert.That(byBound[0.005], Is.EqualTo(2));
            Assert.That(byBound[0.25], Is.EqualTo(2));
            Assert.That(byBound[0.5], Is.EqualTo(3));
            Assert.That(byBound[10], Is.EqualTo(3));
            Assert.That(cumulative[^1], Is.EqualTo(4), "+Inf holds everything");
            Assert.That(sum, Is.EqualTo(60.304).Within(1e-6));
        });
    }

    [Test]
    public void Concurrent_observations_are_all_counted()
    {
        var histogram = new Histogram();
        const int threads = 8, each = 20_000;
        Parallel.For(0, threads, t =>
        {
            for (var i = 0; i < each; i++) histogram.Observe(Ticks((i % 100) / 1000.0)); // 0 to 99 ms
        });
        var (cumulative, sum) = histogram.Snapshot();
        Assert.That(cumulative[^1], Is.EqualTo(threads * each));
        Assert.That(cumulative, Is.Ordered.Ascending);
        Assert.That(cumulative[Array.IndexOf(Histogram.Bounds, 0.1)], Is.EqualTo(threads * each), "every value is at most 99 ms");
        Assert.That(sum, Is.EqualTo(threads * each * 0.0495).Within(0.01));
    }
}
