namespace LicenseServer.Web.Commands;

/// <summary>The verb and its --name value options; the whole argument list also reaches the configuration.</summary>
public sealed class CommandLine(string verb, IReadOnlyDictionary<string, string> options, string[] all)
{
    public string Verb { get; } = verb;
    public string[] All { get; } = all;

    public static CommandLine Parse(string[] args)
    {
        var verb = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "run";
        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) continue;
            var name = args[i][2..];
            var eq = name.IndexOf('=');
            if (eq >= 0) options[name[..eq]] = name[(eq + 1)..];
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) options[name] = args[++i];
            else options[name] = "true";
        }
        var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
        return new CommandLine(verb, options, rest);
    }

    public string? Get(string name) => options.GetValueOrDefault(name);

    public string Require(string name) => Get(name) is { Length: > 0 } value ? value
        : throw new UsageException($"{Verb} needs --{name}.");
}

public sealed class UsageException(string message) : Exception(message);
