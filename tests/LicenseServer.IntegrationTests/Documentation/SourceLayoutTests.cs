using System.Text.RegularExpressions;

namespace LicenseServer.IntegrationTests.Documentation;

/// <summary>The source reads by responsibility: files small enough to hold one, comments that name things.</summary>
public class SourceLayoutTests
{
    private static IEnumerable<string> SourceFiles(params string[] folders) => folders
        .Select(RepoPaths.File).Where(Directory.Exists)
        .SelectMany(folder => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        .Where(f => f.EndsWith(".cs") || f.EndsWith(".cshtml") || f.EndsWith(".sql"))
        .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "TestResults"));

    [Test]
    public void No_source_file_of_the_product_is_over_300_lines()
    {
        var large = SourceFiles("src")
            .Select(f => (File: Path.GetRelativePath(RepoPaths.Root, f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > 300).Select(f => $"{f.File}: {f.Lines} lines").ToList();
        Assert.That(large, Is.Empty);
    }

    [Test]
    public void The_License_Management_page_is_one_partial_per_card_with_links_from_the_page_routes()
    {
        var page = RepoPaths.File("src/LicenseServer.Web/Pages/Organizations/Licenses.cshtml");
        var cards = Directory.GetFiles(RepoPaths.File("src/LicenseServer.Web/Pages/Organizations/LicenseCards"), "_*.cshtml");
        Assert.That(cards, Has.Length.GreaterThanOrEqualTo(7), "a partial per card");
        Assert.That(File.ReadAllText(page), Does.Not.Contain("<div class=\"card\">"), "the page itself holds no card");
        var handBuilt = cards.Append(page)
            .SelectMany(f => File.ReadLines(f).Where(l => Regex.IsMatch(l, @"(href|action)=""/")).Select(l => $"{Path.GetFileName(f)}: {l.Trim()}"))
            .ToList();
        Assert.That(handBuilt, Is.Empty, "links and forms come from asp-page, asp-page-handler and asp-route-*");
    }

    [Test]
    public void No_source_comment_names_a_requirement_code()
    {
        // Comments name things ("the churn limit"), not the planning codes of the product's requirements.
        var code = new Regex(@"\b[IAUOLCPX]\d{1,2}\b");
        var comment = new Regex(@"(//|^\s*--|@\*).*$");
        var found = SourceFiles("src", "bench", "tests", "db-migrations/functions")
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => comment.Match(x.line) is { Success: true } m && code.IsMatch(m.Value))
            .Select(x => $"{Path.GetRelativePath(RepoPaths.Root, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.That(found, Is.Empty);
    }

}
