using System.Globalization;
using System.Text.RegularExpressions;

namespace LicenseServer.Data.Operations;

/// <summary>
/// The oldest PostgreSQL the migrations run on: 13 (gen_random_uuid without an extension, plan_cache_mode).
/// Checked before any migration, by the server's start, <c>kit-server check-database</c> and the installers,
/// so that an older server is refused with a sentence instead of failing halfway through a migration.
/// </summary>
public static partial class PostgresVersion
{
    public const int Minimum = 13;

    /// <summary>The major version in what PostgreSQL says of itself: "15.8 (Debian 15.8-0+deb12u1)", "9.6.24", "pg_ctl (PostgreSQL) 16.4", "17beta1".</summary>
    public static int? MajorOf(string text)
    {
        var match = VersionPattern().Match(text);
        if (!match.Success) return null;
        // Before 10 the major version was two numbers (9.6); the first is all the check needs.
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>Throws with a sentence when <paramref name="version"/> (as the server or a program reports it) is older than the minimum.</summary>
    /// <param name="where">What was checked, for the sentence: "the database at db.example.com:5432/kit", "the embedded PostgreSQL's programs in /usr/lib/postgresql/15/bin".</param>
    public static void Require(string version, string where)
    {
        var major = MajorOf(version)
            ?? throw new InvalidOperationException($"Could not tell the version of PostgreSQL from \"{version.Trim()}\" ({where}).");
        if (major < Minimum)
            throw new InvalidOperationException(
                $"Found PostgreSQL {Shown(version)} ({where}), and Kit License Server needs PostgreSQL {Minimum} or later. " +
                "Upgrade PostgreSQL (or point Kit:Database:Url at a newer server) before starting or upgrading Kit License Server; nothing has been changed.");
    }

    private static string Shown(string version) => VersionPattern().Match(version) is { Success: true } m ? m.Value : version.Trim();

    [GeneratedRegex(@"(?<![\d.])(\d+)(?:\.\d+)*(?:beta\d+|rc\d+|devel)?")]
    private static partial Regex VersionPattern();
}
