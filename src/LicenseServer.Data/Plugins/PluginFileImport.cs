using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LicenseServer.Data.Plugins;

/// <summary>
/// Moves the package files that versions before kept in the data directory (plugins/aa/sha256.zip, on the node that
/// took the upload) into the database, at start: each file that a package needs is checked against the package's
/// SHA-256 while it is written, committed, and only then deleted. A file that does not match stays where it is and is
/// never stored. Several nodes may start at once: each blob is moved under its lock, by whichever node comes first.
/// </summary>
public sealed class PluginFileImport(NpgsqlDataSource db, string dataDirectory, ILogger<PluginFileImport> logger)
{
    private sealed record Needed(string Sha256, long SizeBytes, bool Stored, string Package);

    private enum Outcome { Moved, StoredAlready, Mismatch, Gone }

    private string Root => Path.Combine(dataDirectory, "plugins");

    /// <summary>Returns how many packages' bytes it moved into the database.</summary>
    public async Task<int> RunAsync(CancellationToken cancel = default)
    {
        if (!Directory.Exists(Root)) return 0;
        List<Needed> needed;
        await using (var connection = await db.OpenConnectionAsync(cancel))
            needed = (await connection.QueryAsync<Needed>("""
                SELECT p.sha256, min(p.size_bytes) AS size_bytes, b.sha256 IS NOT NULL AS stored, min(p.plugin_id || ' ' || p.version) AS package
                FROM plugin_package p LEFT JOIN plugin_blob b ON b.sha256 = p.sha256
                WHERE p.sha256 ~ '^[0-9a-f]{64}$'
                GROUP BY p.sha256, b.sha256
                """)).AsList();
        var counts = new Dictionary<Outcome, int>();
        foreach (var package in needed)
        {
            var path = Path.Combine(Root, package.Sha256[..2], package.Sha256 + ".zip");
            if (!File.Exists(path)) continue;
            var outcome = package.Stored ? Outcome.StoredAlready : await MoveAsync(package, path, cancel);
            counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
            if (outcome is Outcome.Moved or Outcome.StoredAlready) Delete(path);
        }
        var moved = counts.GetValueOrDefault(Outcome.Moved);
        if (moved > 0 || counts.ContainsKey(Outcome.StoredAlready))
            logger.LogInformation("Moved {Count} plugin {Packages} into the database from {Folder}; deleted {Copies} other {Files} whose bytes the database held already",
                moved, moved == 1 ? "package" : "packages", Root, counts.GetValueOrDefault(Outcome.StoredAlready),
                counts.GetValueOrDefault(Outcome.StoredAlready) == 1 ? "file" : "files");
        return moved;
    }

    private async Task<Outcome> MoveAsync(Needed package, string path, CancellationToken cancel)
    {
        FileStream file;
        try
        {
            // FileShare.Delete: another node on the same data directory may delete the file once it has moved it.
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Outcome.Gone;
        }
        await using (file)
        {
            if (file.Length != package.SizeBytes) return Mismatch(package, path);
            await using var connection = await db.OpenConnectionAsync(cancel);
            await using var tx = await connection.BeginTransactionAsync(cancel);
            await PluginBlobs.LockAsync(connection, tx, package.Sha256);
            // Looked at again under the lock: another node may have moved it, or its last package been deleted, meanwhile.
            var (used, stored) = await connection.QuerySingleAsync<(bool, bool)>("""
                SELECT EXISTS (SELECT 1 FROM plugin_package WHERE sha256 = @Sha256), EXISTS (SELECT 1 FROM plugin_blob WHERE sha256 = @Sha256)
                """, new { package.Sha256 }, tx);
            if (stored) return Outcome.StoredAlready;
            if (!used) return Outcome.Gone;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await PluginBlobs.WriteAsync(connection, tx, package.Sha256, package.SizeBytes, file, hash, cancel);
            // Never stored under a SHA-256 that is not its own: the transaction is rolled back.
            if (Convert.ToHexStringLower(hash.GetHashAndReset()) != package.Sha256) return Mismatch(package, path);
            await tx.CommitAsync(cancel);
            return Outcome.Moved;
        }
    }

    private Outcome Mismatch(Needed package, string path)
    {
        logger.LogWarning("The file {Path} does not match the SHA-256 of {Package} that the database records, so it was not moved into the database " +
                          "and stays where it is. Until an admin deletes that version and uploads it again, its downloads answer that the package is missing.",
            path, package.Package);
        return Outcome.Mismatch;
    }

    /// <summary>Deletes a file whose bytes are in the database, and its folder once empty. One that cannot be deleted now is tried at the next start.</summary>
    private void Delete(string path)
    {
        try
        {
            File.Delete(path);
            var folder = Path.GetDirectoryName(path)!;
            if (!Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not delete {Path}, whose bytes are in the database now: {Reason} It is tried again at the next start.", path, e.Message);
        }
    }
}
