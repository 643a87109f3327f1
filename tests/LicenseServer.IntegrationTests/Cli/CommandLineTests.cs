using System.Text.RegularExpressions;
using LicenseServer.Data.Operations;
using LicenseServer.Tooling;

namespace LicenseServer.IntegrationTests.Cli;

/// <summary>
/// The one convention of the four command lines (kit, kit-server, kit-vendor, kit-bench), run as the built programs:
/// help on every command, --version, --opt=value, and a mistake answered with a sentence and exit code 2.
/// </summary>
public class CommandLineTests
{
    private static readonly string[] Tools = ["kit", "kit-server", "kit-vendor", "kit-bench"];

    private string _scratch = null!;

    [SetUp]
    public void Scratch() => Directory.CreateDirectory(_scratch = Path.Combine(Path.GetTempPath(), "kit-cli-" + Guid.NewGuid().ToString("N")[..8]));

    [TearDown]
    public void Clean() => Directory.Delete(_scratch, recursive: true);

    private ProcessResult Run(string tool, params string[] args) => BuiltTools.Run(tool, _scratch, args);

    /// <summary>The commands a help text lists under "Commands:".</summary>
    private static IEnumerable<string> Subcommands(string help) =>
        help.Split("Commands:").Skip(1).Take(1)
            .SelectMany(section => Regex.Matches(section, @"^  ([a-z][a-z-]*)", RegexOptions.Multiline).Select(m => m.Groups[1].Value));

    [Test]
    public void Every_command_of_every_tool_answers_its_help_with_its_options_and_the_root_names_the_exit_codes()
    {
        var failures = new List<string>();
        var walked = 0;
        foreach (var tool in Tools)
        {
            var root = Run(tool, "--help");
            Assert.That(root.ExitCode, Is.Zero, $"{tool} --help\n{root.Output}");
            Assert.That(root.Output, Does.Contain("Exit codes: 0").And.Contain("2 usage"), $"{tool} --help names its exit codes");
            var pending = new Queue<string[]>(Subcommands(root.Output).Select(c => new[] { c }));
            while (pending.TryDequeue(out var path))
            {
                walked++;
                var help = Run(tool, [.. path, "--help"]);
                if (help.ExitCode != 0 || !help.Output.Contains($"{tool} {string.Join(' ', path)}") || !help.Output.Contains("Options:"))
                    failures.Add($"{tool} {string.Join(' ', path)} --help: exit {help.ExitCode}\n{help.Output}");
                foreach (var sub in Subcommands(help.Output)) pending.Enqueue([.. path, sub]);
            }
        }
        Assert.That(failures, Is.Empty);
        Assert.That(walked, Is.GreaterThanOrEqualTo(20), "kit's ten commands, kit-server's ten and kit-vendor's three");
    }

    [Test]
    public void Every_tool_prints_its_version()
    {
        var version = typeof(ServerProcess).Assembly.GetName().Version!.ToString(3);
        foreach (var tool in Tools)
        {
            var result = Run(tool, "--version");
            Assert.That(result.ExitCode, Is.Zero, tool);
            Assert.That(result.Output.Trim(), Does.StartWith(version), tool);
        }
    }

    [Test]
    public void An_option_takes_its_value_after_a_space_or_an_equals_sign()
    {
        Assert.That(Run("kit-vendor", "keygen", $"--out={_scratch}/a").ExitCode, Is.Zero);
        Assert.That(Run("kit-vendor", "keygen", "--out", $"{_scratch}/b").ExitCode, Is.Zero);
        Assert.That(File.Exists($"{_scratch}/a.pub") && File.Exists($"{_scratch}/b.pub"));

        var issued = Run("kit-vendor", "issue", $"--key={_scratch}/a.key", "--customer=ACME", "--product=KSE:per-user:3:perpetual", $"--out={_scratch}/a.lic");
        Assert.That(issued.ExitCode, Is.Zero, issued.Output);
        var verified = Run("kit-vendor", "verify", "--pub", $"{_scratch}/a.pub", $"{_scratch}/a.lic");
        Assert.That(verified.ExitCode, Is.Zero, verified.Output);
        Assert.That(verified.Output, Does.Contain("VALID: license"));
    }

    [Test]
    public void A_mistake_on_the_command_line_is_a_sentence_and_exit_code_2_and_runs_nothing()
    {
        foreach (var (tool, args, says) in new (string, string[], string)[]
                 {
                     ("kit", ["activate", "--org"], "--org"),
                     ("kit", ["fly"], "'fly'"),
                     ("kit", ["orgs", "--bogus", "1"], "'--bogus'"),
                     ("kit-vendor", ["issue", "--key"], "--key"),
                     ("kit-vendor", ["keygen", "--out", "x", "--out", "y"], "--out"),
                     ("kit-server", ["migrate", "--bogus"], "'--bogus'"),
                     ("kit-server", ["backup"], "--out"),
                     ("kit-server", ["bogus"], "'bogus'"),
                     ("kit-bench", ["--seconds", "0"], "--seconds must be a positive number"),
                 })
        {
            var result = Run(tool, args);
            Assert.That(result.ExitCode, Is.EqualTo(CommandLineTool.UsageError), $"{tool} {string.Join(' ', args)}\n{result.Output}");
            Assert.That(result.Output, Does.Contain(says), $"{tool} {string.Join(' ', args)}");
            Assert.That(result.Output, Does.Contain("--help"), "says where help is");
        }
        Assert.That(Directory.EnumerateFileSystemEntries(_scratch), Is.Empty, "no command ran: no database, no file");
    }

    [Test]
    public void A_typed_password_shows_a_star_for_each_character_and_backspace_takes_one_back()
    {
        var keys = new Queue<ConsoleKeyInfo>(
        [
            new('s', ConsoleKey.S, false, false, false), new('e', ConsoleKey.E, false, false, false), new('x', ConsoleKey.X, false, false, false),
            new('\b', ConsoleKey.Backspace, false, false, false), new('t', ConsoleKey.T, false, false, false), new(' ', ConsoleKey.Spacebar, false, false, false),
            new('\t', ConsoleKey.Tab, false, false, false), new('\r', ConsoleKey.Enter, false, false, false),
        ]);
        var echo = new StringWriter();
        Assert.That(CommandLineTool.ReadMasked(keys.Dequeue, echo), Is.EqualTo("set "));
        Assert.That(echo.ToString(), Is.EqualTo("***\b \b**" + Environment.NewLine), "nothing of the password itself is shown");
    }
}
