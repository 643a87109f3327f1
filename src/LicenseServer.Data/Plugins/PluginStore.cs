using System.Security.Cryptography;
using Dapper;
using LicenseServer.Core.Plugins;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Plugins;

public sealed record PluginRow(long Id, long OrganizationId, string PluginId, string Name, string Version, string Compatible, string Description,
    string Kind, string Sha256, long SizeBytes, DateTime UploadedAt, string? UploadedBy);

/// <summary>
/// P1-P3: plugin packages on disk, content-addressed by SHA-256 under the data directory, with their
/// metadata in PostgreSQL. An upload streams to a temporary file (never whole in memory), is checked,
/// moved into place with an atomic rename, and only then recorded: a crash leaves neither a half file
/// under a real name nor a row without its file.
/// </summary>
public sealed class PluginStore(NpgsqlDataSource db, string dataDirectory)
{
    private const string Select = """
        SELECT p.id, p.organization_id, p.plugin_id, p.name, p.version, p.compatible, p.description, p.kind, p.sha256, p.size_bytes, p.uploaded_at,
               u.email AS uploaded_by
        FROM plugin_package p LEFT JOIN public.user_account u ON u.id = p.uploaded_by
        """;

    public string Root => Path.Combine(dataDirectory, "plugins");

    public string PathOf(string sha256) => Path.Combine(Root, sha256[..2], sha256 + ".zip");

    public async Task<PluginRow> StoreAsync(long organizationId, string kind, Stream upload, long maxBytes, long uploader, CancellationToken cancel = default)
    {
        if (kind is not ("offline" or "private")) throw new PluginRejectedException("bad_kind", "Mark the package offline (from the vendor's store) or private (your own).");
        var incoming = Path.Combine(Root, "incoming");
        Directory.CreateDirectory(incoming);
        var temp = Path.Combine(incoming, Guid.NewGuid().ToString("N") + ".part");
        try
        {
            string sha;
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[81920];
                int read;
                while ((read = await upload.ReadAsync(buffer, cancel)) > 0)
                {
                    size += read;
                    if (size > maxBytes)
                        throw new PluginRejectedException("too_large", $"The package is larger than the limit of {maxBytes / (1024 * 1024)} MB.");
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancel);
                }
                if (size == 0) throw new PluginRejectedException("not_a_zip", "The package is empty.");
                sha = Convert.ToHexStringLower(hash.GetHashAndReset());
                await file.FlushAsync(cancel);
                file.Flush(flushToDisk: true);
                file.Position = 0;
                var manifest = PluginPackage.Inspect(file, maxBytes);
                await file.DisposeAsync();
                var final = PathOf(sha);
                Directory.CreateDirectory(Path.GetDirectoryName(final)!);
                if (File.Exists(final)) File.Delete(temp);
                else File.Move(temp, final);
                return await RecordAsync(organizationId, kind, manifest, sha, size, uploader);
            }
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private async Task<PluginRow> RecordAsync(long organizationId, string kind, PluginManifest manifest, string sha, long size, long uploader)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var id = await connection.ExecuteScalarAsync<long?>("""
            INSERT INTO plugin_package (organization_id, plugin_id, name, version, compatible, description, kind, sha256, size_bytes, uploaded_by)
            VALUES (@organizationId, @Id, @Name, @Version, @Compatible, @Description, @kind, @sha, @size, @uploader)
            ON CONFLICT (organization_id, plugin_id, version) DO NOTHING RETURNING id
            """, new { organizationId, manifest.Id, manifest.Name, manifest.Version, manifest.Compatible, manifest.Description, kind, sha, size, uploader }, tx);
        if (id is null)
        {
            await tx.RollbackAsync();
            await DeleteFileIfUnusedAsync(sha);
            throw new PluginRejectedException("duplicate_version", $"{manifest.Id} {manifest.Version} is in the repository already. Delete that version first, or raise the version.");
        }
        await AuditRepository.WriteAsync(connection, tx, uploader, organizationId, "plugin.uploaded", $"{manifest.Id} {manifest.Version}", kind);
        await tx.CommitAsync();
        return (await FindAsync(organizationId, id.Value))!;
    }

    public async Task<PluginRow?> FindAsync(long organizationId, long id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<PluginRow>(Select + " WHERE p.organization_id = @organizationId AND p.id = @id", new { organizationId, id });
    }

    public async Task<IReadOnlyList<PluginRow>> ListAsync(long organizationId, string? search)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<PluginRow>(Select + """
             WHERE p.organization_id = @organizationId AND (lower(p.plugin_id) LIKE @pattern ESCAPE '\' OR lower(p.name) LIKE @pattern ESCAPE '\')
             ORDER BY p.plugin_id, p.uploaded_at DESC
            """, new { organizationId, pattern = Pattern(search) })).AsList();
    }

    /// <summary>What a client sees: every offline package, and the private ones of its organizations.</summary>
    public async Task<IReadOnlyList<PluginRow>> VisibleAsync(IReadOnlyList<long> organizationIds, string? search, string? pluginId = null)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<PluginRow>(Select + """
             WHERE (p.kind = 'offline' OR p.organization_id = ANY(@organizationIds))
               AND (lower(p.plugin_id) LIKE @pattern ESCAPE '\' OR lower(p.name) LIKE @pattern ESCAPE '\')
               AND (@pluginId::text IS NULL OR p.plugin_id = @pluginId)
             ORDER BY p.plugin_id, p.uploaded_at DESC
            """, new { organizationIds = organizationIds.ToArray(), pattern = Pattern(search), pluginId })).AsList();
    }

    public async Task<bool> DeleteAsync(long organizationId, long id, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(string Sha, string PluginId, string Version)?>(
            "DELETE FROM plugin_package WHERE organization_id = @organizationId AND id = @id RETURNING sha256, plugin_id, version", new { organizationId, id }, tx);
        if (row is not { } deleted) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "plugin.deleted", $"{deleted.PluginId} {deleted.Version}");
        await tx.CommitAsync();
        await DeleteFileIfUnusedAsync(deleted.Sha);
        return true;
    }

    private async Task DeleteFileIfUnusedAsync(string sha)
    {
        await using var connection = await db.OpenConnectionAsync();
        if (!await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM plugin_package WHERE sha256 = @sha)", new { sha }))
            File.Delete(PathOf(sha));
    }

    private static string Pattern(string? search) => "%" + Accounts.Like.Escape((search ?? "").Trim().ToLowerInvariant()) + "%";
}
