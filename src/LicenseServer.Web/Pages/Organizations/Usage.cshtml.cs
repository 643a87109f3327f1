using System.Text;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Licenses;
using LicenseServer.Web.Licenses;
using LicenseServer.Web.Organizations;
using LicenseServer.Web.Usage;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>Seats in use over time for one product (?product=CODE&amp;period=24h|7d|30d), its peak, refusals, CSV.</summary>
public sealed class UsageModel(LicenseService licenses, UsageService usage, UsageSampler sampler) : OrganizationPageModel
{
    [FromQuery(Name = "product")] public string? ProductCode { get; set; }
    [FromQuery(Name = "period")] public string? PeriodKey { get; set; }
    public IReadOnlyList<PoolRow> Pools { get; private set; } = [];
    public PoolRow? Pool { get; private set; }
    public UsageReport? Report { get; private set; }
    public UsageChart? Chart { get; private set; }
    public int SampleSeconds => (int)sampler.Interval.TotalSeconds;

    public string Link(string? product, string? period, string? handler = null) =>
        $"/Organizations/{Membership.OrganizationId}/Usage?product={Uri.EscapeDataString(product ?? "")}&period={Uri.EscapeDataString(period ?? "")}" +
        (handler is null ? "" : "&handler=" + handler);

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync()) return NotFound();
        if (Report is not null) Chart = new UsageChart(Report.Samples, Report.Peak, Report.From, Report.To);
        return Page();
    }

    [Requires(OrgPermission.ManageLicenses)]
    public async Task<IActionResult> OnGetCsvAsync()
    {
        if (!await LoadAsync() || Report is null) return NotFound();
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(UsageService.Csv(Report))).ToArray();
        return File(bytes, "text/csv; charset=utf-8", $"usage-{Membership.OrganizationId}-{Report.Product}-{Report.Period.Key}-{Report.To.UtcDateTime:yyyyMMdd-HHmmss}.csv");
    }

    /// <summary>False for a product the server's license does not have.</summary>
    private async Task<bool> LoadAsync()
    {
        Pools = await licenses.PoolsAsync(Membership);
        Pool = ProductCode is null ? Pools.FirstOrDefault() : Pools.FirstOrDefault(p => p.Code == ProductCode);
        if (Pool is null) return ProductCode is null;
        Report = await usage.ReportAsync(Membership, Pool.Code, UsageService.Period(PeriodKey));
        return true;
    }
}
