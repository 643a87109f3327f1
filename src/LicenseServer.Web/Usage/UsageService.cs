using System.Globalization;
using System.Text;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Usage;
using LicenseServer.Web.Organizations;

namespace LicenseServer.Web.Usage;

public sealed record UsagePeriod(string Key, string Label, TimeSpan Length);

/// <summary>What the Usage page shows for one product and period; the CSV holds exactly <see cref="Samples"/>.</summary>
public sealed record UsageReport(string Product, UsagePeriod Period, DateTimeOffset From, DateTimeOffset To,
    IReadOnlyList<UsageSample> Samples, UsageSample? Peak, long RefusalCount, IReadOnlyList<RefusalRow> LatestRefusals);

/// <summary>Seats in use over a period, its peak, and the seats refused in it.</summary>
public sealed class UsageService(UsageRepository usage, TimeProvider clock)
{
    public const int LatestRefusals = 20;
    public const string CsvHeader = "Time (UTC),Product,In use,Quota";

    public static readonly IReadOnlyList<UsagePeriod> Periods =
    [
        new("24h", "24 hours", TimeSpan.FromHours(24)),
        new("7d", "7 days", TimeSpan.FromDays(7)),
        new("30d", "30 days", TimeSpan.FromDays(30)),
    ];

    /// <summary>The period named by <paramref name="key"/>; the first (24 hours) for anything else.</summary>
    public static UsagePeriod Period(string? key) => Periods.FirstOrDefault(p => p.Key == key) ?? Periods[0];

    public async Task<UsageReport> ReportAsync(Membership actor, string product, UsagePeriod period)
    {
        var to = clock.GetUtcNow();
        var from = to - period.Length;
        var samples = await usage.SamplesAsync(actor.OrganizationId, product, from, to);
        var (count, latest) = await usage.RefusalsAsync(actor.OrganizationId, product, from, to, LatestRefusals);
        // MaxBy keeps the first of equal peaks: the time the peak was first reached.
        return new UsageReport(product, period, from, to, samples, samples.MaxBy(s => s.InUse), count, latest);
    }

    /// <summary>The report's samples as CSV, formula-safe like the audit log's.</summary>
    public static string Csv(UsageReport report)
    {
        var csv = new StringBuilder(CsvHeader).Append("\r\n");
        foreach (var s in report.Samples)
            csv.Append(string.Join(',',
                    AuditCsv.Cell(s.SampledAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)), AuditCsv.Cell(report.Product),
                    s.InUse.ToString(CultureInfo.InvariantCulture), s.Quota.ToString(CultureInfo.InvariantCulture)))
                .Append("\r\n");
        return csv.ToString();
    }
}
