using System.Globalization;
using System.Text;
using LicenseServer.Core.Organizations;
using LicenseServer.Data.Audit;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc;

namespace LicenseServer.Web.Pages.Organizations;

/// <summary>Every membership and license action with who, when and from which address; filter; CSV export of the same rows.</summary>
public sealed class AuditModel(AuditRepository audit) : OrganizationPageModel
{
    public const int PageSize = 50;
    public const int MaxCsvRows = 100_000;

    public static readonly (string Value, string Label)[] Actions =
    [
        ("", "Everything"), ("member.", "Members"), ("invitation.", "Invitations"), ("team.", "Teams"), ("license.", "Licenses"),
        ("session.", "Sessions"), ("api_key.", "API keys"), ("plugin.", "Plugins"), ("mail.", "Mail server"), ("alert", "Alerts"), ("organization.", "Organization"),
    ];

    [FromQuery(Name = "action")] public string? Action { get; set; }
    [FromQuery(Name = "actor")] public string? Actor { get; set; }
    [FromQuery(Name = "subject")] public string? Subject { get; set; }
    [FromQuery(Name = "from")] public string? From { get; set; }
    [FromQuery(Name = "to")] public string? To { get; set; }
    [FromQuery(Name = "p")] public int PageNumber { get; set; } = 1;

    public IReadOnlyList<AuditRow> Rows { get; private set; } = [];
    public long Total { get; private set; }
    public int Pages => (int)Math.Max(1, (Total + PageSize - 1) / PageSize);
    public string CsvLink => Link("Csv");
    public string PageLink => Link(null) + "&p=";

    [Requires(OrgPermission.ManageMembers)]
    public async Task OnGetAsync()
    {
        if (Filter() is not { } filter) return;
        PageNumber = Math.Clamp(PageNumber, 1, 1_000_000);
        (Rows, Total) = await audit.SearchAsync(Membership.OrganizationId, filter, (PageNumber - 1) * PageSize, PageSize);
    }

    [Requires(OrgPermission.ManageMembers)]
    public async Task<IActionResult> OnGetCsvAsync()
    {
        if (Filter() is not { } filter) return Page();
        var (rows, _) = await audit.SearchAsync(Membership.OrganizationId, filter, 0, MaxCsvRows);
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(AuditCsv.Write(rows))).ToArray();
        return File(bytes, "text/csv; charset=utf-8", $"audit-{Membership.OrganizationId}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv");
    }

    private AuditFilter? Filter()
    {
        if (Action is { Length: > 0 } && Actions.All(a => a.Value != Action)) Action = "";
        DateTimeOffset? Day(string? text, string what, bool endOfDay)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                Refuse($"Enter the {what} date as yyyy-MM-dd.");
                return null;
            }
            return new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddDays(endOfDay ? 1 : 0);
        }
        var from = Day(From, "from", false);
        var to = Day(To, "to", true);
        return Error is null ? new AuditFilter(Action, Trim(Actor), Trim(Subject), from, to) : null;
    }

    private static string? Trim(string? text) => text is { Length: > 254 } ? text[..254] : text;

    private string Link(string? handler)
    {
        var query = new List<string>();
        if (handler is not null) query.Add("handler=" + handler);
        foreach (var (key, value) in new[] { ("action", Action), ("actor", Actor), ("subject", Subject), ("from", From), ("to", To) })
            if (!string.IsNullOrEmpty(value)) query.Add($"{key}={Uri.EscapeDataString(value)}");
        return $"/Organizations/{Membership.OrganizationId}/Audit?" + string.Join('&', query.DefaultIfEmpty("all=1"));
    }
}
