using System.CommandLine;
using System.CommandLine.Parsing;

namespace LicenseServer.Tooling;

/// <summary>
/// The one command-line convention of kit, kit-server, kit-vendor and kit-bench, on System.CommandLine: --help on
/// every command, --version, "--opt value" and "--opt=value", and a mistake on the command line answered with its
/// sentence and exit code 2. Response files are off, so a value that starts with @ is that value. Each tool
/// compiles this file in (internal), so that no tool's types leak into another's.
/// </summary>
internal static class CommandLineTool
{
    /// <summary>The exit code of a mistake on the command line, in every tool.</summary>
    public const int UsageError = 2;

    public static ParseResult Parse(RootCommand root, IReadOnlyList<string> args) =>
        root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

    /// <summary>
    /// Runs the command the arguments name. Parse errors print their sentences and where to find help, and answer
    /// <see cref="UsageError"/>; an action's exception reaches the caller, which turns it into the tool's exit code.
    /// The caller owns Ctrl+C: <paramref name="cancel"/> is the action's token.
    /// </summary>
    public static async Task<int> InvokeAsync(ParseResult parsed, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors) error.WriteLine(problem.Message);
            error.WriteLine($"See: {CommandPath(parsed.CommandResult)} --help");
            return UsageError;
        }
        var invocation = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        return await parsed.InvokeAsync(invocation, cancel);
    }

    /// <summary>"kit activate" for the command a parse ended in.</summary>
    public static string CommandPath(CommandResult command) =>
        command.Parent is CommandResult parent ? $"{CommandPath(parent)} {command.Command.Name}" : command.Command.Name;

    /// <summary>The option named --<paramref name="name"/> of the command a parse ended in; null when it has none.</summary>
    public static Option? Find(ParseResult parsed, string name) =>
        parsed.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--" + name);

    /// <summary>The value of a text option of the command a parse ended in; null when not given or when the command has no such option.</summary>
    public static string? Text(ParseResult parsed, string name) => Find(parsed, name) is Option<string> option ? parsed.GetValue(option) : null;

    /// <summary>An option that takes a value, described for --help.</summary>
    public static Option<string> Value(string name, string description, bool required = false) =>
        new(name) { Description = description, Required = required };

    /// <summary>
    /// A password: the option's value, else the environment variable, else typed at a prompt that shows nothing of
    /// it when a person is at a terminal, else one line of standard input (a script's pipe).
    /// </summary>
    public static string ReadPassword(string? given, string environmentVariable, string prompt, TextWriter promptTo)
    {
        if (given is not null) return given;
        if (Environment.GetEnvironmentVariable(environmentVariable) is { } fromEnvironment) return fromEnvironment;
        if (Console.IsInputRedirected) return Console.In.ReadLine() ?? "";
        promptTo.Write(prompt);
        promptTo.Flush();
        return ReadMasked(() => Console.ReadKey(intercept: true), promptTo);
    }

    /// <summary>Keys up to Enter, each shown as a '*'; Backspace takes the last one back; Ctrl+C is left to the terminal.</summary>
    public static string ReadMasked(Func<ConsoleKeyInfo> readKey, TextWriter echo)
    {
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = readKey();
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (typed.Length == 0) continue;
                typed.Length--;
                echo.Write("\b \b");
            }
            else if (!char.IsControl(key.KeyChar))
            {
                typed.Append(key.KeyChar);
                echo.Write('*');
            }
        }
        echo.WriteLine();
        return typed.ToString();
    }
}
