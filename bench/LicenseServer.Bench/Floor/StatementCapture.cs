using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace LicenseServer.Bench.Floor;

/// <summary>One statement the server sent, as PostgreSQL logged it: the SQL, whether it was a named (prepared) statement, and its bound parameters.</summary>
public sealed record CapturedStatement(int BackendPid, string Sql, bool Prepared, IReadOnlyDictionary<int, string?> Parameters);

/// <summary>
/// Captures the very SQL the server issues for a request: statement logging is switched on for the whole
/// cluster (<c>ALTER SYSTEM SET log_statement = 'all'</c> and a reload, which reaches the server's pooled
/// connections too), the request is made, and the lines it added to the embedded cluster's log
/// (<c>pgsql/postmaster.log</c>, where pg_ctl sends the postmaster's stderr) are parsed: <c>statement: SQL</c>
/// for the simple protocol (BEGIN, COMMIT), <c>execute &lt;unnamed&gt;: SQL</c> with its
/// <c>DETAIL: parameters: $1 = '…'</c> for the extended protocol. The bench's own connections are told
/// apart by their application name and left out.
/// </summary>
public sealed class StatementCapture(NpgsqlDataSource db, string logFile) : IAsyncDisposable
{
    private const string BenchApplication = "kit-bench";
    private static readonly Regex Entry = new(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (.*?)\|(LOG|DETAIL|STATEMENT|ERROR|WARNING|HINT|CONTEXT|FATAL|NOTICE):  (.*)$",
        RegexOptions.Compiled);
    private static readonly Regex Execute = new(@"^execute ([^:]+): (.*)$", RegexOptions.Compiled | RegexOptions.Singleline);
    private bool _on;

    public async Task StartAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("ALTER SYSTEM SET log_statement = 'all'");
        await connection.ExecuteAsync("ALTER SYSTEM SET log_line_prefix = '%m [%p] %a|'");
        await connection.ExecuteAsync("ALTER SYSTEM SET log_parameter_max_length = -1");
        await connection.ExecuteAsync("SELECT pg_reload_conf()");
        _on = true;
        // Backends apply a reload between commands: give idle pooled connections a moment, and check that ours did.
        await Task.Delay(500);
        var setting = await connection.ExecuteScalarAsync<string>("SHOW log_statement");
        if (setting != "all") throw new InvalidOperationException($"Statement logging did not switch on (log_statement = {setting}).");
    }

    /// <summary>The statements the server sent while <paramref name="request"/> ran (and a short while after, for its last writes to be logged).</summary>
    public async Task<IReadOnlyList<CapturedStatement>> CaptureAsync(Func<Task> request)
    {
        if (!_on) throw new InvalidOperationException("Start the capture first.");
        await Task.Delay(200);
        var from = new FileInfo(logFile).Length;
        await request();
        await Task.Delay(300);
        var to = new FileInfo(logFile).Length;
        return Parse(ReadRange(from, to));
    }

    private string ReadRange(long from, long to)
    {
        using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(from, SeekOrigin.Begin);
        var buffer = new byte[to - from];
        stream.ReadExactly(buffer);
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>Parses log text: entries start with the prefix; a message's further lines start with a tab.</summary>
    public static IReadOnlyList<CapturedStatement> Parse(string text)
    {
        var entries = new List<(int Pid, string App, string Level, StringBuilder Message)>();
        foreach (var line in text.Split('\n'))
        {
            var match = Entry.Match(line);
            if (match.Success)
                entries.Add((int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value,
                    match.Groups[3].Value, new StringBuilder(match.Groups[4].Value)));
            else if (line.StartsWith('\t') && entries.Count > 0)
                entries[^1].Message.Append('\n').Append(line, 1, line.Length - 1);
        }
        var statements = new List<CapturedStatement>();
        for (var i = 0; i < entries.Count; i++)
        {
            var (pid, app, level, message) = entries[i];
            if (level != "LOG" || app == BenchApplication) continue;
            var text2 = message.ToString();
            if (text2.StartsWith("statement: ", StringComparison.Ordinal))
            {
                statements.Add(new CapturedStatement(pid, text2["statement: ".Length..].Trim(), false, new Dictionary<int, string?>()));
                continue;
            }
            var execute = Execute.Match(text2);
            if (!execute.Success) continue;
            var parameters = new Dictionary<int, string?>();
            // Its parameters follow as DETAIL of the same backend (other backends' lines may come between).
            for (var j = i + 1; j < entries.Count; j++)
            {
                if (entries[j].Pid != pid) continue;
                if (entries[j].Level == "DETAIL" && entries[j].Message.ToString() is var detail && detail.StartsWith("parameters: ", StringComparison.Ordinal))
                    parameters = ParseParameters(detail["parameters: ".Length..]);
                break;
            }
            statements.Add(new CapturedStatement(pid, execute.Groups[2].Value.Trim(), execute.Groups[1].Value != "<unnamed>", parameters));
        }
        return statements;
    }

    /// <summary><c>$1 = '3', $2 = NULL, $3 = 'it''s'</c>: values are quoted with doubled quotes.</summary>
    public static Dictionary<int, string?> ParseParameters(string text)
    {
        var result = new Dictionary<int, string?>();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] != '$') throw new FormatException($"Unexpected parameter list at {i}: {text}");
            var start = ++i;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            var number = int.Parse(text[start..i], System.Globalization.CultureInfo.InvariantCulture);
            if (string.CompareOrdinal(text, i, " = ", 0, 3) != 0) throw new FormatException($"Unexpected parameter list at {i}: {text}");
            i += 3;
            if (string.CompareOrdinal(text, i, "NULL", 0, 4) == 0)
            {
                result[number] = null;
                i += 4;
            }
            else
            {
                if (text[i] != '\'') throw new FormatException($"Unexpected parameter value at {i}: {text}");
                var value = new StringBuilder();
                i++;
                while (true)
                {
                    if (text[i] == '\'')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '\'') { value.Append('\''); i += 2; continue; }
                        i++;
                        break;
                    }
                    value.Append(text[i++]);
                }
                result[number] = value.ToString();
            }
            if (i < text.Length)
            {
                if (string.CompareOrdinal(text, i, ", ", 0, 2) != 0) throw new FormatException($"Unexpected parameter list at {i}: {text}");
                i += 2;
            }
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_on) return;
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("ALTER SYSTEM RESET log_statement");
        await connection.ExecuteAsync("ALTER SYSTEM RESET log_line_prefix");
        await connection.ExecuteAsync("ALTER SYSTEM RESET log_parameter_max_length");
        await connection.ExecuteAsync("SELECT pg_reload_conf()");
        _on = false;
    }
}
