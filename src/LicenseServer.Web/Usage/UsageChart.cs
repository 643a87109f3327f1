using System.Globalization;
using LicenseServer.Data.Usage;

namespace LicenseServer.Web.Usage;

/// <summary>
/// The geometry of the Usage page's SVG line chart, drawn on the server (the CSP allows no script
/// and no inline style). Up to <see cref="MaxPoints"/> samples are drawn one point each; beyond that
/// each point is the highest sample of its slice, so a peak is never smoothed away.
/// </summary>
public sealed class UsageChart
{
    public const int Width = 720, Height = 240, Left = 44, Right = 12, Top = 12, Bottom = 28;
    public const int MaxPoints = 1000;
    /// <summary>Below this many points each sample also gets a dot, so a lone sample is visible.</summary>
    public const int MaxDots = 60;

    public UsageChart(IReadOnlyList<UsageSample> samples, UsageSample? peak, DateTimeOffset from, DateTimeOffset to)
    {
        var drawn = Downsample(samples);
        YMax = Math.Max(1, samples.Count == 0 ? 1 : Math.Max(samples.Max(s => s.Quota), samples.Max(s => s.InUse)));
        var span = Math.Max(1, (to - from).Ticks);
        double X(DateTime at) => Left + (Width - Left - Right) * Math.Clamp((double)(at.Ticks - from.UtcTicks) / span, 0, 1);
        double Y(int value) => Top + (Height - Top - Bottom) * (1 - (double)value / YMax);

        Points = drawn.Select(s => (X(s.SampledAt), Y(s.InUse))).ToList();
        QuotaPoints = drawn.Select(s => (X(s.SampledAt), Y(s.Quota))).ToList();
        if (peak is not null) Peak = (X(peak.SampledAt), Y(peak.InUse));
        YTicks = new[] { 0, YMax / 2, YMax }.Distinct().Select(v => (Y(v), v)).ToList();
        var format = to - from > TimeSpan.FromDays(2) ? "MM-dd" : "HH:mm";
        XTicks = Enumerable.Range(0, 5).Select(i =>
        {
            var at = from + (to - from) * i / 4;
            // The outer labels lean inwards so that neither is cut off at the edge.
            return (X(at.UtcDateTime), at.UtcDateTime.ToString(format, CultureInfo.InvariantCulture), i switch { 0 => "start", 4 => "end", _ => "middle" });
        }).ToList();
    }

    public int YMax { get; }
    public IReadOnlyList<(double X, double Y)> Points { get; }
    public IReadOnlyList<(double X, double Y)> QuotaPoints { get; }
    public (double X, double Y)? Peak { get; }
    public IReadOnlyList<(double Y, int Value)> YTicks { get; }
    public IReadOnlyList<(double X, string Label, string Anchor)> XTicks { get; }
    public double PlotLeft => Left;
    public double PlotRight => Width - Right;
    public double PlotBottom => Height - Bottom;

    /// <summary>SVG <c>points</c> text, invariant culture.</summary>
    public static string Polyline(IEnumerable<(double X, double Y)> points) =>
        string.Join(' ', points.Select(p => $"{N(p.X)},{N(p.Y)}"));

    public static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static IReadOnlyList<UsageSample> Downsample(IReadOnlyList<UsageSample> samples)
    {
        if (samples.Count <= MaxPoints) return samples;
        var slice = (double)samples.Count / MaxPoints;
        return Enumerable.Range(0, MaxPoints)
            .Select(i => samples.Skip((int)(i * slice)).Take(Math.Max(1, (int)((i + 1) * slice) - (int)(i * slice))).MaxBy(s => s.InUse)!)
            .ToList();
    }
}
