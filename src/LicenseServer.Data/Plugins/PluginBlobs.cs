using System.Buffers;
using System.Security.Cryptography;
using Dapper;
using Npgsql;

namespace LicenseServer.Data.Plugins;

/// <summary>
/// Package bytes in PostgreSQL, once per SHA-256, in chunks (plugin_blob, plugin_chunk). Whoever writes or deletes
/// a blob, or adds a package that uses one, holds the blob's lock until its transaction ends, and looks at what is
/// there only once it holds the lock: so an upload of bytes that a delete is removing at the same moment, on
/// whichever node, either finds them gone and writes them again or keeps them, and a package never lacks its bytes.
/// </summary>
internal static class PluginBlobs
{
    /// <summary>How much of a package one chunk holds: what an upload or a download holds in memory at a time.</summary>
    public const int ChunkBytes = 1024 * 1024;

    public static Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sha256) =>
        connection.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtextextended('plugin blob ' || @sha256, 0))", new { sha256 }, tx);

    public static Task<bool> ExistsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sha256) =>
        connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM plugin_blob WHERE sha256 = @sha256)", new { sha256 }, tx);

    /// <summary>
    /// Stores <paramref name="size"/> bytes read from <paramref name="source"/> as the blob <paramref name="sha256"/>, one chunk
    /// at a time through one buffer, feeding them to <paramref name="hash"/> if given (to check them before the commit).
    /// Call with the blob's lock held, when it does not exist.
    /// </summary>
    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sha256, long size, Stream source, IncrementalHash? hash,
        CancellationToken cancel)
    {
        await connection.ExecuteAsync("INSERT INTO plugin_blob (sha256, size_bytes, chunk_bytes) VALUES (@sha256, @size, @ChunkBytes)",
            new { sha256, size, ChunkBytes }, tx);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            await using var insert = new NpgsqlCommand("INSERT INTO plugin_chunk (sha256, n, bytes) VALUES ($1, $2, $3)", connection, tx);
            var n = new NpgsqlParameter<int>();
            var bytes = new NpgsqlParameter<ReadOnlyMemory<byte>>();
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sha256 });
            insert.Parameters.Add(n);
            insert.Parameters.Add(bytes);
            long written = 0;
            for (var chunk = 0; written < size; chunk++)
            {
                var length = (int)Math.Min(ChunkBytes, size - written);
                var read = await source.ReadAtLeastAsync(buffer.AsMemory(0, length), length, throwOnEndOfStream: false, cancel);
                if (read < length) throw new IOException($"The package ended after {written + read} of its {size} bytes.");
                hash?.AppendData(buffer, 0, read);
                n.TypedValue = chunk;
                bytes.TypedValue = buffer.AsMemory(0, read);
                await insert.ExecuteNonQueryAsync(cancel);
                written += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Removes the blob if no package uses it any more (its chunks go with it). Takes the blob's lock.</summary>
    public static async Task DeleteIfUnusedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sha256)
    {
        await LockAsync(connection, tx, sha256);
        await connection.ExecuteAsync("""
            DELETE FROM plugin_blob b WHERE b.sha256 = @sha256 AND NOT EXISTS (SELECT 1 FROM plugin_package p WHERE p.sha256 = b.sha256)
            """, new { sha256 }, tx);
    }

    /// <summary>A stream over the blob, or null if the database does not hold it.</summary>
    public static async Task<PluginBlobStream?> OpenAsync(NpgsqlDataSource db, string sha256, CancellationToken cancel)
    {
        await using var connection = await db.OpenConnectionAsync(cancel);
        var blob = await connection.QuerySingleOrDefaultAsync<(long Size, int ChunkBytes)?>(
            "SELECT size_bytes, chunk_bytes FROM plugin_blob WHERE sha256 = @sha256", new { sha256 });
        return blob is { } found ? new PluginBlobStream(db, sha256, found.Size, found.ChunkBytes) : null;
    }
}
