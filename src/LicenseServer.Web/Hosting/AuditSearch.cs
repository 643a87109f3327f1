using System.Globalization;
using System.Text;
using LicenseServer.Data.Audit;
using LicenseServer.Web.Organizations;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// An audit log's filters (kind, actor, subject, days), page and CSV export, read from the address: an
/// organization's log and the server's own (the entries of no organization) show the same form and table.
/// </summary>
public sealed class AuditSearch
{
    public const int PageSize = 50;
    public const int MaxCsvRows = 100_000;

    private readonly string _path;

    public AuditSearch(HttpRequest request, string path, IReadOnlyList<(string Value, string Label)> actions)
    {
        _path = path;
        Actions = actions;
        string? Value(string name) => request.Query[name].FirstOrDefault() is { Length: > 0 } v ? v[..Math.Min(v.Length, 254)] : null;
        Action = Value("action") is { } a && actions.Any(x => x.Value == a) ? a : "";
        (Actor, Subject, From, To) = (Value("actor"), Value("subject"), Value("from"), Value("to"));
        PageNumber = int.TryParse(request.Query["p"], out var p) ? Math.Clamp(p, 1, 1_000_000) : 1;
        var from = Day(From, "from", false);
        var to = Day(To, "to", true);
        if (Error is null) Filter = new AuditFilter(Action, Actor, Subject, from, to);
    }

    public IReadOnlyList<(string Value, string Label)> Actions { get; }
    public string Action { get; }
    public string? Actor { get; }
    public string? Subject { get; }
    public string? From { get; }
    public string? To { get; }
    public int PageNumber { get; }

    /// <summary>Null when a filter cannot be read; <see cref="Error"/> says which.</summary>
    public AuditFilter? Filter { get; }
    public string? Error { get; private set; }

    public IReadOnlyList<AuditRow> Rows { get; private set; } = [];
    public long Total { get; private set; }
    public int Pages => (int)Math.Max(1, (Total + PageSize - 1) / PageSize);
    public string CsvLink => Link("Csv");
    public string PageLink => Link(null) + "&p=";

    /// <summary>Reads the page of <paramref name="organizationId"/>'s log, or of the server's when null.</summary>
    public async Task LoadAsync(AuditRepository audit, long? organizationId)
    {
        if (Filter is not { } filter) return;
        (Rows, Total) = await audit.SearchAsync(organizationId, filter, (PageNumber - 1) * PageSize, PageSize);
    }

    /// <summary>The same rows as CSV (up to <see cref="MaxCsvRows"/>), with a byte order mark for spreadsheets.</summary>
    public async Task<byte[]> CsvAsync(AuditRepository audit, long? organizationId)
    {
        var (rows, _) = await audit.SearchAsync(organizationId, Filter!, 0, MaxCsvRows);
        return Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(AuditCsv.Write(rows))).ToArray();
    }

    private DateTimeOffset? Day(string? text, string what, bool endOfDay)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            Error ??= $"Enter the {what} date as yyyy-MM-dd.";
            return null;
        }
        return new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddDays(endOfDay ? 1 : 0);
    }

    private string Link(string? handler)
    {
        var query = new List<string>();
        if (handler is not null) query.Add("handler=" + handler);
        foreach (var (key, value) in new[] { ("action", Action), ("actor", Actor), ("subject", Subject), ("from", From), ("to", To) })
            if (!string.IsNullOrEmpty(value)) query.Add($"{key}={Uri.EscapeDataString(value)}");
        return _path + "?" + string.Join('&', query.DefaultIfEmpty("all=1"));
    }
}
