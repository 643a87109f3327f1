using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LicenseServer.Bench.Floor;

/// <summary>A pgbench script made from captured statements, and the protocol mode that matches how they were sent.</summary>
public sealed record FloorScript(string Name, string Text, string Mode, int Statements);

/// <summary>
/// Turns captured statements into a pgbench script: every bound parameter becomes the literal the server sent,
/// except the values that must change per transaction: a checkout's new session id (random per transaction,
/// and the same id in its release) and, for the checkout, the organization, drawn among the bench's
/// organizations as the HTTP clients spread over them, so that the floor waits on the same pool-row locks
/// the server does and not on one. A heartbeat's session id is one of N live sessions with predictable ids,
/// <c>md5('bench-' || n)::uuid</c>. BEGIN and COMMIT stay as captured.
/// </summary>
public static partial class FloorScriptBuilder
{
    [GeneratedRegex(@"(?<![\w$])\$(\d+)(?!\d)")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?)?$")]
    private static partial Regex Timestamp();

    /// <summary>
    /// The checkout and release of <paramref name="sessionId"/>, made a new session on every run. The server
    /// finds the caller's organization from the API key, so the captured key's hash (<paramref name="keyHash"/>)
    /// becomes one of <paramref name="organizationKeyHashes"/>, a key in each organization, picked at random
    /// like the load's clients spread over the organizations.
    /// </summary>
    public static FloorScript Checkout(IReadOnlyList<CapturedStatement> checkout, IReadOnlyList<CapturedStatement> release, Guid sessionId,
        byte[] keyHash, IReadOnlyList<byte[]> organizationKeyHashes)
    {
        var header = new StringBuilder()
            .AppendLine("-- The server's SQL for one floating checkout (POST /api/v1/sessions) and its release (DELETE /api/v1/sessions/{id}),")
            .AppendLine("-- captured from PostgreSQL's statement log by kit-bench; regenerated on every run. The API key is one of a user")
            .AppendLine("-- in each organization, picked at random.")
            .AppendLine("\\set r1 random(1, 2000000000)")
            .AppendLine("\\set r2 random(1, 2000000000)")
            .AppendLine(CultureInfo.InvariantCulture, $"\\set k random(1, {organizationKeyHashes.Count})");
        const string newSession = "md5((:client_id)::text || '-' || (:r1)::text || '-' || (:r2)::text)::uuid";
        var captured = Hex(keyHash);
        var someKey = "(ARRAY[" + string.Join(", ", organizationKeyHashes.Select(h => Quote(Hex(h)) + "::bytea")) + "])[:k]";
        // A checkout with an API key is sent in a batch of the calls that arrived together, its values in
        // arrays; alone, as here, each array holds one value: {id} and {"\\x..."}.
        string? Vary(string? value) =>
            value == sessionId.ToString() ? newSession
            : value == captured ? someKey
            : value == "{" + sessionId + "}" ? "ARRAY[" + newSession + "]"
            : value == "{\"" + captured.Replace("\\", "\\\\") + "\"}" ? "ARRAY[" + someKey + "]"
            : null;
        return Build("checkout", header, [.. checkout, .. release], Vary);
    }

    /// <summary>A bytea as PostgreSQL logs it.</summary>
    private static string Hex(byte[] bytes) => "\\x" + Convert.ToHexStringLower(bytes);

    public static FloorScript Heartbeat(IReadOnlyList<CapturedStatement> heartbeat, Guid sessionId, int liveSessions)
    {
        var header = new StringBuilder()
            .AppendLine("-- The server's SQL for one floating heartbeat (PUT /api/v1/sessions/{id}/heartbeat), captured from PostgreSQL's")
            .AppendLine(CultureInfo.InvariantCulture, $"-- statement log by kit-bench; the session is one of {liveSessions} live sessions with ids md5('bench-' || n)::uuid.")
            .AppendLine(CultureInfo.InvariantCulture, $"\\set n random(1, {liveSessions})");
        return Build("heartbeat", header, heartbeat, value => value == sessionId.ToString() ? "md5('bench-' || (:n)::text)::uuid" : null);
    }

    private static FloorScript Build(string name, StringBuilder script, IReadOnlyList<CapturedStatement> statements, Func<string?, string?> vary)
    {
        if (statements.Count == 0) throw new InvalidOperationException($"No SQL was captured for the {name}: statement logging did not reach the server's connections.");
        bool openLocal = false, inTransaction = false;
        foreach (var statement in statements)
        {
            var sql = Placeholder().Replace(statement.Sql, m =>
            {
                var number = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                if (!statement.Parameters.TryGetValue(number, out var value))
                    throw new InvalidOperationException($"The log has no value for ${number} of: {statement.Sql}");
                return vary(value) ?? Literal(value);
            });
            // The server sends a SET LOCAL in one round trip with the statement it applies to, one implicit
            // transaction. pgbench sends statements one by one, so that transaction is spelled out.
            var text = sql.TrimStart();
            if (text.StartsWith("BEGIN", StringComparison.OrdinalIgnoreCase)) inTransaction = true;
            else if (text.StartsWith("COMMIT", StringComparison.OrdinalIgnoreCase) || text.StartsWith("ROLLBACK", StringComparison.OrdinalIgnoreCase)) inTransaction = false;
            var setLocal = !inTransaction && text.StartsWith("SET LOCAL", StringComparison.OrdinalIgnoreCase);
            if (setLocal && !openLocal) script.AppendLine("BEGIN;");
            script.AppendLine(sql.TrimEnd().TrimEnd(';') + ";");
            if (openLocal && !setLocal) script.AppendLine("COMMIT;");
            openLocal = setLocal;
        }
        // Npgsql sends unprepared statements (Parse/Bind/Execute each time, logged as "execute <unnamed>") unless
        // auto-preparation is configured: -M extended does the same. Were they prepared, -M prepared would match.
        var mode = statements.Any(s => s.Prepared) ? "prepared" : "extended";
        return new FloorScript(name, script.ToString(), mode, statements.Count);
    }

    /// <summary>
    /// A parameter's value as an SQL literal. pgbench's extended and prepared modes read any ":name" in the
    /// SQL as a variable, even inside quotes, so no literal may hold a colon: timestamps become to_timestamp(epoch).
    /// </summary>
    public static string Literal(string? value)
    {
        if (value is null) return "NULL";
        if (Timestamp().Match(value) is { Success: true } ts)
        {
            if (ts.Groups[2].Success)
            {
                var at = DateTimeOffset.Parse(ts.Groups[2].Value.Length == 3 ? value + ":00" : value, CultureInfo.InvariantCulture);
                var epoch = (at - DateTimeOffset.UnixEpoch).Ticks / 10m / 1_000_000m;
                return $"to_timestamp({epoch.ToString(CultureInfo.InvariantCulture)})";
            }
            var local = DateTime.Parse(value, CultureInfo.InvariantCulture);
            return $"make_timestamp({local.Year}, {local.Month}, {local.Day}, {local.Hour}, {local.Minute}, {(local.Second + local.Ticks % TimeSpan.TicksPerSecond / 1e7).ToString(CultureInfo.InvariantCulture)})";
        }
        if (!value.Contains(':')) return Quote(value);
        return "(" + string.Join(" || chr(58) || ", value.Split(':').Select(Quote)) + ")";
    }

    private static string Quote(string value) => "'" + value.Replace("'", "''") + "'";
}
