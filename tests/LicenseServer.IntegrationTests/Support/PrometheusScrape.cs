using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LicenseServer.IntegrationTests.Support;

public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A strict reader of the Prometheus text exposition format 0.0.4, as a scraper would read it: it fails
/// on any line that does not parse, a sample without # TYPE before it, a family declared twice, a
/// counter not named *_total, and a histogram whose buckets are not cumulative up to +Inf = _count.
/// </summary>
public sealed partial class PrometheusScrape
{
    private PrometheusScrape(IReadOnlyList<PrometheusSample> samples, IReadOnlyDictionary<string, string> types, IReadOnlyDictionary<string, string> help)
    {
        Samples = samples;
        Types = types;
        Help = help;
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }
    public IReadOnlyDictionary<string, string> Types { get; }
    public IReadOnlyDictionary<string, string> Help { get; }

    /// <summary>The value of the one sample with this name and (at least) these labels; 0 when there is none, as Prometheus treats a counter not yet seen.</summary>
    public double Value(string name, params (string Name, string Value)[] labels)
    {
        var found = Find(name, labels).ToList();
        Assert.That(found, Has.Count.LessThanOrEqualTo(1), $"more than one {name} sample with {string.Join(",", labels)}");
        return found.Count == 0 ? 0 : found[0].Value;
    }

    public IEnumerable<PrometheusSample> Find(string name, params (string Name, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value));

    public static PrometheusScrape Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>();
        var help = new Dictionary<string, string>();
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var where = $"line {lineNumber}: {line}";
            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                var comment = CommentPattern().Match(line);
                if (!comment.Success) continue; // other comments are allowed
                var (kind, name, rest) = (comment.Groups[1].Value, comment.Groups[2].Value, comment.Groups[3].Value);
                var into = kind == "HELP" ? help : types;
                Assert.That(into.TryAdd(name, rest), $"# {kind} {name} given twice ({where})");
                if (kind == "TYPE")
                {
                    Assert.That(rest, Is.AnyOf("counter", "gauge", "histogram", "summary", "untyped"), where);
                    Assert.That(samples.Any(s => FamilyOf(s.Name, types) == name), Is.False, $"# TYPE {name} after its samples ({where})");
                    if (rest == "counter") Assert.That(name, Does.EndWith("_total"), $"a counter's name ends in _total ({where})");
                }
                continue;
            }
            var sample = SamplePattern().Match(line);
            Assert.That(sample.Success, $"not a sample ({where})");
            var labels = new Dictionary<string, string>();
            var labelText = sample.Groups[2].Value;
            var position = 0;
            while (position < labelText.Length)
            {
                var label = LabelPattern().Match(labelText, position);
                Assert.That(label.Success && label.Index == position, $"bad labels ({where})");
                Assert.That(labels.TryAdd(label.Groups[1].Value, Unescape(label.Groups[2].Value)), $"label given twice ({where})");
                position += label.Length;
            }
            var sampleName = sample.Groups[1].Value;
            Assert.That(types.ContainsKey(FamilyOf(sampleName, types)), $"no # TYPE before {sampleName} ({where})");
            samples.Add(new PrometheusSample(sampleName, labels, ParseValue(sample.Groups[3].Value, where)));
        }
        Assert.That(help.Keys, Is.EquivalentTo(types.Keys), "every family has # HELP and # TYPE");
        var scrape = new PrometheusScrape(samples, types, help);
        foreach (var (family, type) in types.Where(t => t.Value == "histogram")) scrape.CheckHistogram(family);
        return scrape;
    }

    private void CheckHistogram(string family)
    {
        var bySeries = Samples.Where(s => s.Name.StartsWith(family + "_", StringComparison.Ordinal))
            .GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key).Select(l => $"{l.Key}={l.Value}")));
        foreach (var series in bySeries)
        {
            var buckets = series.Where(s => s.Name == family + "_bucket").Select(s => (Le: ParseValue(s.Labels["le"], s.Labels["le"]), s.Value)).ToList();
            Assert.That(buckets.Select(b => b.Le), Is.Ordered.Ascending.And.Unique, $"{family}{{{series.Key}}} buckets in order of le");
            Assert.That(buckets.Select(b => b.Value), Is.Ordered.Ascending, $"{family}{{{series.Key}}} buckets are cumulative");
            Assert.That(buckets[^1].Le, Is.EqualTo(double.PositiveInfinity), $"{family}{{{series.Key}}} ends with le=+Inf");
            var count = series.Single(s => s.Name == family + "_count").Value;
            Assert.That(buckets[^1].Value, Is.EqualTo(count), $"{family}{{{series.Key}}} +Inf bucket = _count");
            Assert.That(series.Single(s => s.Name == family + "_sum").Value, Is.GreaterThanOrEqualTo(0));
        }
    }

    private static string FamilyOf(string sampleName, IReadOnlyDictionary<string, string> types)
    {
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal) && types.TryGetValue(sampleName[..^suffix.Length], out var type) && type is "histogram" or "summary")
                return sampleName[..^suffix.Length];
        return sampleName;
    }

    private static double ParseValue(string text, string where) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : throw new AssertionException($"not a number: {text} ({where})"),
    };

    private static string Unescape(string value)
    {
        var text = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\') { text.Append(value[i]); continue; }
            var next = value[++i];
            text.Append(next switch { 'n' => '\n', '\\' => '\\', '"' => '"', _ => throw new AssertionException($"bad escape \\{next} in {value}") });
        }
        return text.ToString();
    }

    [GeneratedRegex(@"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$")]
    private static partial Regex CommentPattern();

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)(?: -?[0-9]+)?$")]
    private static partial Regex SamplePattern();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)"",?")]
    private static partial Regex LabelPattern();
}
