using System.Globalization;
using System.Text;
using LicenseServer.Data.Audit;

namespace LicenseServer.Web.Organizations;

/// <summary>The audit log as CSV that opens in a spreadsheet with the rows the page shows.</summary>
public static class AuditCsv
{
    /// <summary>The request's address comes last, so that spreadsheets made from earlier exports keep their columns.</summary>
    public const string Header = "Time (UTC),Actor,Action,Subject,Details,Address";

    public static string Write(IEnumerable<AuditRow> rows)
    {
        var csv = new StringBuilder(Header).Append("\r\n");
        foreach (var row in rows)
            csv.Append(string.Join(',',
                    Cell(row.At.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)), Cell(row.ActorEmail ?? "system"),
                    Cell(row.Action), Cell(row.Subject ?? ""), Cell(row.Details ?? ""), Cell(row.Address ?? "")))
                .Append("\r\n");
        return csv.ToString();
    }

    /// <summary>RFC 4180 quoting, and a leading apostrophe before = + - @ so a spreadsheet never runs a cell as a formula.</summary>
    public static string Cell(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }
}
