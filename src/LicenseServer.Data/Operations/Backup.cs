using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Operations;

/// <summary>
/// One backup file (.tar.gz) holding a pg_dump of the database (custom format), the data
/// directory's keys where present, and a manifest. The dump holds the plugin packages, and the Data Protection
/// key ring, which decrypts the server's private key and every stored secret, so the file is its
/// owner's alone. Restore refuses a database that holds data unless told to replace it, and refuses an
/// archive this server did not write before it touches the database or the data directory.
/// </summary>
public static class Backup
{
    /// <summary>The data directory's folders that a backup holds.</summary>
    public static readonly string[] DataFolders = ["keys"];

    /// <summary>
    /// The folders a backup may hold: also "plugins", the package files of versions that kept them in the data directory.
    /// Restore puts them back there, and the next start moves them into the database as it does at an upgrade.
    /// </summary>
    public static readonly string[] RestorableFolders = ["plugins", .. DataFolders];
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(30);

    public sealed record Manifest(string Product, string Version, DateTimeOffset CreatedAt, string Schema, IReadOnlyList<string> DataFolders);

    public static Manifest Create(string connectionString, string dataDirectory, string outFile, string version, string? binDirectory)
    {
        var work = Directory.CreateTempSubdirectory("kit-backup-");
        try
        {
            var dump = Path.Combine(work.FullName, "kit.dump");
            Run(binDirectory, "pg_dump", connectionString, ["--format=custom", "--no-owner", "--no-privileges", "--file", dump]);
            var copied = new List<string>();
            foreach (var folder in DataFolders)
            {
                var source = Path.Combine(dataDirectory, folder);
                if (!Directory.Exists(source)) continue;
                CopyDirectory(source, Path.Combine(work.FullName, "data", folder));
                copied.Add(folder);
            }
            var manifest = new Manifest("Kit License Server", version, DateTimeOffset.UtcNow, Migrator.KnownScripts[^1].Replace("db-migrations.", ""), copied);
            File.WriteAllText(Path.Combine(work.FullName, "manifest.json"), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
            var partial = outFile + ".partial";
            using (var file = Core.Security.OwnerOnlyFile.Replace(partial)) // not one left over from an interrupted run, which would keep its mode
            using (var gzip = new GZipStream(file, CompressionLevel.Optimal))
                TarFile.CreateFromDirectory(work.FullName, gzip, includeBaseDirectory: false);
            File.Move(partial, outFile, overwrite: true); // never a half-written backup under the real name; the mode comes along
            return manifest;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    public static Manifest Restore(string backupFile, string connectionString, string dataDirectory, bool replace, string? binDirectory)
    {
        var work = Directory.CreateTempSubdirectory("kit-restore-");
        try
        {
            try
            {
                Extract(backupFile, work.FullName);
            }
            catch (InvalidDataException)
            {
                throw new InvalidOperationException($"{backupFile} is not a Kit License Server backup: it is not a .tar.gz archive.");
            }
            var manifestPath = Path.Combine(work.FullName, "manifest.json");
            if (!File.Exists(manifestPath) || !File.Exists(Path.Combine(work.FullName, "kit.dump")))
                throw new InvalidOperationException($"{backupFile} is not a Kit License Server backup (no manifest or database dump inside).");
            var manifest = ReadManifest(backupFile, manifestPath, work.FullName);
            if (!replace && HasData(connectionString))
                throw new InvalidOperationException("The database is not empty. Restore into an empty database, or add --replace to overwrite what it holds.");
            Run(binDirectory, "pg_restore", connectionString,
                ["--no-owner", "--no-privileges", "--exit-on-error", .. replace ? new[] { "--clean", "--if-exists" } : [], Path.Combine(work.FullName, "kit.dump")]);
            foreach (var folder in manifest.DataFolders)
            {
                var target = Path.Combine(dataDirectory, folder);
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                CopyDirectory(Path.Combine(work.FullName, "data", folder), target);
            }
            NpgsqlConnection.ClearAllPools();
            return manifest;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Unpacks files and folders only, each inside <paramref name="directory"/>. A backup holds nothing else,
    /// so a link (which could lead a later entry, or a data folder's copy, outside) is refused, not followed.
    /// </summary>
    private static void Extract(string backupFile, string directory)
    {
        using var file = File.OpenRead(backupFile);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        var root = Path.TrimEndingDirectorySeparator(directory) + Path.DirectorySeparatorChar;
        while (reader.GetNextEntry() is { } entry)
        {
            var path = Path.GetFullPath(Path.Combine(root, entry.Name));
            if (entry.EntryType is not (TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                throw NotWrittenHere(backupFile, $"it holds {entry.Name}, a {entry.EntryType} entry, where a backup holds only files and folders");
            if (!(path + Path.DirectorySeparatorChar).StartsWith(root, StringComparison.Ordinal))
                throw NotWrittenHere(backupFile, $"its entry {entry.Name} lies outside the archive");
            if (entry.EntryType is TarEntryType.Directory)
            {
                Directory.CreateDirectory(path);
                continue;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            entry.ExtractToFile(path, overwrite: false);
        }
    }

    /// <summary>The manifest, if every data folder it names is one a backup writes, once, and inside the archive.</summary>
    private static Manifest ReadManifest(string backupFile, string manifestPath, string work)
    {
        Manifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(manifestPath));
        }
        catch (JsonException)
        {
            manifest = null;
        }
        if (manifest?.DataFolders is null) throw NotWrittenHere(backupFile, "its manifest.json cannot be read");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in manifest.DataFolders)
        {
            // An exact name from the list, never a path: restore deletes and rewrites dataDirectory/folder.
            if (!RestorableFolders.Contains(folder, StringComparer.Ordinal))
                throw NotWrittenHere(backupFile, $"its manifest names the data folder \"{folder}\", where a backup holds only {string.Join(" and ", RestorableFolders)}");
            if (!seen.Add(folder))
                throw NotWrittenHere(backupFile, $"its manifest names the data folder \"{folder}\" twice");
            if (!Directory.Exists(Path.Combine(work, "data", folder)))
                throw NotWrittenHere(backupFile, $"its manifest names the data folder \"{folder}\", which the archive does not hold");
        }
        return manifest;
    }

    private static InvalidOperationException NotWrittenHere(string backupFile, string why) =>
        new($"{backupFile} is not a backup this server wrote, or it has been altered: {why}. Nothing was restored; restore a file written by kit-server backup.");

    private static bool HasData(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", connection);
        return (long)command.ExecuteScalar()! > 0;
    }

    private static void Run(string? binDirectory, string tool, string connectionString, IReadOnlyList<string> arguments)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var path = Path.Combine(PostgresCluster.FindBinDirectory(binDirectory, tool), OperatingSystem.IsWindows() ? tool + ".exe" : tool);
        var result = ProcessRunner.Run(path,
            ["--host", builder.Host ?? "127.0.0.1", "--port", builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--username", builder.Username ?? "postgres", "--dbname", builder.Database ?? "kit", .. arguments],
            ToolTimeout, new Dictionary<string, string> { ["PGPASSWORD"] = builder.Password ?? "", ["PGCONNECT_TIMEOUT"] = "10" });
        if (result.ExitCode != 0) throw new InvalidOperationException($"{tool} failed (exit {result.ExitCode}): {result.Output}");
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination, overwrite: true);
        }
    }
}
