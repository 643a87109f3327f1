using System.Reflection;
using System.Text.RegularExpressions;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Hosting;

namespace LicenseServer.IntegrationTests.Documentation;

/// <summary>
/// The documents are part of the product: what they name must exist, what they link must resolve, and a customer
/// must never meet the internal ids the team plans with.
/// </summary>
public class DocumentationTests
{
    /// <summary>Every document a customer or an engineer reads, relative to the repository's root.</summary>
    private static IReadOnlyList<string> Documents { get; } =
    [
        "README.md", "SECURITY.md", "bench/README.md",
        .. Directory.GetFiles(RepoPaths.File("docs"), "*.md").Select(f => Path.GetRelativePath(RepoPaths.Root, f).Replace('\\', '/')).Order(),
    ];

    private static string Read(string document) => File.ReadAllText(RepoPaths.File(document));

    [Test]
    public void The_README_is_a_front_door_of_at_most_200_lines()
    {
        var lines = File.ReadAllLines(RepoPaths.File("README.md"));
        Assert.That(lines, Has.Length.LessThanOrEqualTo(200));
        foreach (var doc in new[] { "install", "admin-guide", "configuration", "operations", "design", "client-protocol" })
            Assert.That(File.Exists(RepoPaths.File($"docs/{doc}.md")), $"docs/{doc}.md");
    }

    [Test]
    public void No_document_names_an_internal_feature_id_or_an_issue_number()
    {
        // Feature ids are a letter of the plan's areas and a number; issues are "issue 9", "#12".
        var internalId = new Regex(@"\b[IAUOLCPX]\d{1,2}\b|\bissues? #?\d+|(?<![\w&/])#\d+\b", RegexOptions.IgnoreCase);
        var found = Documents
            .SelectMany(d => Read(d).Split('\n').Select((line, i) => (d, i, line)))
            .Where(x => internalId.IsMatch(CaseSensitiveIds(x.line)))
            .Select(x => $"{x.d}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.That(found, Is.Empty);

        // Feature ids are upper case: "p1" in a path or "c1" in a hash is not one.
        static string CaseSensitiveIds(string line) => Regex.Replace(line, @"\b[iaulocpx]\d{1,2}\b", "");
    }

    [Test]
    public void Every_link_between_documents_resolves_to_a_file_and_heading()
    {
        var link = new Regex(@"!?\[[^\]]*\]\(([^)\s]+)\)");
        var broken = new List<string>();
        foreach (var document in Documents)
        {
            var text = Read(document);
            foreach (Match m in link.Matches(StripCode(text)))
            {
                var target = m.Groups[1].Value;
                if (target.StartsWith("http://") || target.StartsWith("https://") || target.StartsWith("mailto:")) continue;
                var hash = target.IndexOf('#');
                var file = hash >= 0 ? target[..hash] : target;
                var anchor = hash >= 0 ? target[(hash + 1)..] : null;
                var path = file.Length == 0 ? RepoPaths.File(document)
                    : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(RepoPaths.File(document))!, file));
                if (!File.Exists(path) && !Directory.Exists(path)) { broken.Add($"{document}: {target} (no such file)"); continue; }
                if (anchor is not null && !Anchors(File.ReadAllText(path)).Contains(anchor))
                    broken.Add($"{document}: {target} (no such heading)");
            }
        }
        Assert.That(broken, Is.Empty);
    }

    [Test]
    public void Every_setting_of_the_server_is_in_the_configuration_reference_and_nothing_else_is()
    {
        var settings = SettingKeys("Kit", typeof(KitOptions)).Append("Urls").Order().ToList();
        var documented = Regex.Matches(Read("docs/configuration.md"), @"^\| `([A-Za-z:]+)` \|", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).Order().ToList();
        Assert.That(documented, Is.EqualTo(settings), "each setting once in a table row of docs/configuration.md");

        var sample = Read("appsettings.sample.json");
        foreach (var key in settings)
            Assert.That(sample, Does.Contain($"\"{key.Split(':')[^1]}\""), $"{key} in appsettings.sample.json");
    }

    [Test]
    public void Every_test_a_document_cites_exists()
    {
        var sources = Directory.GetFiles(RepoPaths.File("tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                     && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(File.ReadAllText).ToList();
        var cited = Documents.SelectMany(d => Regex.Matches(Read(d), @"`(\w+Tests)(?:\.(\w+))?`").Select(m => (d, Class: m.Groups[1].Value, Method: m.Groups[2].Value)));
        var missing = cited
            .Where(c => !sources.Any(s => Regex.IsMatch(s, $@"\bclass {c.Class}\b")
                                        && (c.Method.Length == 0 || Regex.IsMatch(s, $@"\b{c.Method}\(")) ))
            .Select(c => $"{c.d}: {c.Class}{(c.Method.Length > 0 ? "." + c.Method : "")}")
            .Distinct().ToList();
        Assert.That(cited.Count(), Is.GreaterThan(20), "the design document cites the tests that hold its promises");
        Assert.That(missing, Is.Empty);
    }

    [Test]
    public void Every_command_in_the_documents_answers_its_help()
    {
        // Lines of the documents' shell examples that run one of the product's commands, with or without sudo.
        var command = new Regex(@"^\s*(?:sudo\s+(?:-u\s+\S+\s+)?)?(?:\w+=\S+\s+)*(kit-server|kit-vendor|kit)\s+([a-z][a-z-]*)", RegexOptions.Multiline);
        var named = Documents
            .SelectMany(d => Regex.Matches(Read(d), @"```(?:bash|sh|powershell)?\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value))
            .SelectMany(block => command.Matches(block).Select(m => (Tool: m.Groups[1].Value, Verb: m.Groups[2].Value)))
            .Distinct().ToList();
        Assert.That(named.Select(n => n.Tool).Distinct(), Is.EquivalentTo(new[] { "kit-server", "kit", "kit-vendor" }));

        var failures = new List<string>();
        foreach (var (tool, verb) in named)
        {
            var result = Run(tool, [verb, "--help"]);
            if (result.ExitCode != 0 || !result.Output.Contains(verb))
                failures.Add($"{tool} {verb} --help: exit {result.ExitCode}\n{result.Output}");
        }
        foreach (var tool in new[] { "kit-server", "kit", "kit-vendor" })
        {
            var version = Run(tool, ["--version"]);
            if (version.ExitCode != 0 || !Regex.IsMatch(version.Output, @"\d+\.\d+\.\d+")) failures.Add($"{tool} --version: exit {version.ExitCode}\n{version.Output}");
        }
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void The_client_protocol_lists_every_error_code_of_the_API_with_its_status_and_nothing_else()
    {
        var rows = Regex.Matches(Read("docs/client-protocol.md"), @"^\| `([a-z_]+)` \| (\d{3}) \|", RegexOptions.Multiline)
            .Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(rows, Is.EquivalentTo(LicenseServer.Web.Api.ApiProblemCodes.All.Select(c => (c.Name, c.Status))));
    }

    /// <summary>Help must not touch a database: should a command run anyway, it runs in a directory deleted after it.</summary>
    private static ProcessResult Run(string tool, string[] args)
    {
        var scratch = Path.Combine(Path.GetTempPath(), "kit-doc-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            return BuiltTools.Run(tool, scratch, args);
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Configuration keys of an options class: Section:Property, recursing into nested option classes.</summary>
    private static IEnumerable<string> SettingKeys(string prefix, Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).SelectMany(p =>
            p.PropertyType.IsClass && p.PropertyType != typeof(string) && !p.PropertyType.IsArray
                ? SettingKeys($"{prefix}:{p.Name}", p.PropertyType)
                : [$"{prefix}:{p.Name}"]);

    /// <summary>GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces to hyphens.</summary>
    private static HashSet<string> Anchors(string markdown) =>
        Regex.Matches(StripCode(markdown), @"^#{1,6}\s+(.+?)\s*$", RegexOptions.Multiline)
            .Select(m => Regex.Replace(Regex.Replace(m.Groups[1].Value.ToLowerInvariant(), @"[^\p{L}\p{N}\s_-]", ""), @"\s", "-"))
            .ToHashSet();

    private static string StripCode(string markdown) => Regex.Replace(markdown, @"```.*?```", "", RegexOptions.Singleline);
}
