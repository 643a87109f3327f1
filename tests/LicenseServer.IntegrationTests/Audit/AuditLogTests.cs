using System.Net;
using System.Text.RegularExpressions;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Audit;

/// <summary>The audit log page, its filters, and a CSV with the same rows.</summary>
public partial class AuditLogTests : LicenseTest
{
    private string AuditPage => $"/Organizations/{Org}/Audit";

    private static List<string> ActionsOn(string html) => ActionCell().Matches(html).Select(m => m.Groups[1].Value).ToList();

    private static List<string[]> CsvRows(string csv) => csv.TrimStart('\uFEFF').Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
        .Select(line => CsvCell().Matches(line).Select(m => m.Groups[1].Success ? m.Groups[1].Value.Replace("\"\"", "\"") : m.Groups[2].Value).ToArray())
        .ToList();

    [Test]
    public async Task Every_action_is_listed_with_who_and_when_and_the_CSV_has_the_same_rows()
    {
        var users = await MembersAsync(2);
        using (await AssignAsync(Admin, users[0])) { }
        using (await InviteAsync(Admin, Org, "newcomer@acme.test")) { }
        using (await Admin.PostFormAsync($"/Organizations/{Org}/Teams?handler=Create", new Dictionary<string, string> { ["name"] = "=HYPERLINK(\"x\"), QA" }, tokenPage: $"/Organizations/{Org}/Teams")) { }

        var page = await Admin.GetTextAsync(AuditPage);
        var actions = ActionsOn(page);
        Assert.That(actions, Does.Contain("license.assigned").And.Contain("invitation.created").And.Contain("team.created").And.Contain("organization.created"));
        Assert.That(page, Does.Contain(AdminEmail).And.Contain(DateTime.UtcNow.ToString("yyyy-MM-dd")));
        Assert.That(page, Does.Contain("<th>Address</th>").And.Contain("<td>127.0.0.1</td>"), "where each change came from: the tests connect from 127.0.0.1");

        var licenses = await Admin.GetTextAsync(AuditPage + "?action=license.");
        Assert.That(ActionsOn(licenses), Has.All.StartsWith("license."));
        Assert.That(ActionsOn(licenses), Does.Contain("license.assigned").And.Contain("license.allocated"));

        using var csv = await Admin.GetAsync(AuditPage + "?handler=Csv");
        Assert.That(csv.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/csv"));
        var rows = CsvRows(await csv.Content.ReadAsStringAsync());
        Assert.That(rows.Select(r => r[2]), Is.EqualTo(actions), "the CSV has the rows the page shows, in the same order");
        Assert.That(rows, Has.All.Length.EqualTo(6));
        Assert.That(rows.Select(r => r[5]).Distinct(), Is.EqualTo(new[] { "127.0.0.1" }), "the From column: the address of each change's request");
        var team = rows.Single(r => r[2] == "team.created");
        Assert.That(team[3], Is.EqualTo("'=HYPERLINK(\"x\"), QA"), "quoted, and never run as a formula");

        using var filtered = await Admin.GetAsync(AuditPage + "?handler=Csv&action=license.");
        Assert.That(CsvRows(await filtered.Content.ReadAsStringAsync()).Select(r => r[2]), Is.EqualTo(ActionsOn(licenses)));
    }

    [Test]
    public async Task Filters_match_literally_and_a_bad_date_is_refused_with_a_sentence()
    {
        Assert.That(await Admin.GetTextAsync(AuditPage + "?actor=%25"), Does.Contain("0 entries"), "% is not a wildcard");
        Assert.That(await Admin.GetTextAsync(AuditPage + "?actor=" + Uri.EscapeDataString("' OR 1=1--")), Does.Contain("0 entries"));
        Assert.That(await Admin.GetTextAsync(AuditPage + $"?from={DateTime.UtcNow.AddDays(1):yyyy-MM-dd}"), Does.Contain("0 entries"));
        Assert.That(await Admin.GetTextAsync(AuditPage + $"?to={DateTime.UtcNow:yyyy-MM-dd}"), Does.Not.Contain("0 entries"), "the to-date is inclusive");
        using var bad = await Admin.GetAsync(AuditPage + "?from=yesterday");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(bad), Does.Contain("Enter the from date as yyyy-MM-dd."));
    }

    [Test]
    public async Task A_Member_cannot_read_the_audit_log()
    {
        await AddMemberAsync(Org, "member@acme.test");
        var member = await SignedInAsync("member@acme.test");
        foreach (var path in new[] { AuditPage, AuditPage + "?handler=Csv" })
        {
            using var response = await member.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), path);
        }
    }

    [GeneratedRegex("<td><code>([a-z_.]+)</code></td>")]
    private static partial Regex ActionCell();

    [GeneratedRegex("(?:^|,)(?:\"((?:[^\"]|\"\")*)\"|([^,]*))")]
    private static partial Regex CsvCell();
}
