using System.Security.Cryptography;
using Dapper;
using LicenseServer.Core.Plugins;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Plugins;

/// <summary>A stored package; <c>OrganizationId</c> is null for an offline package, which is the server's.</summary>
public sealed record PluginRow(long Id, long? OrganizationId, string PluginId, string Name, string Version, string Compatible, string Description,
    string Kind, string Sha256, long SizeBytes, DateTimeOffset UploadedAt, string? UploadedBy);

/// <summary>
/// Plugin packages: their metadata (plugin_package) and their bytes (<see cref="PluginBlobs"/>), both in PostgreSQL, so
/// that every node serves every package. An upload streams to a temporary file (never whole in memory) while it is
/// hashed, is checked, and is then written into the database in chunks, in the same transaction as its row: a crash
/// leaves neither a row without its bytes nor bytes without a row.
/// Offline packages (the vendor's store) are the server's (no organization) and every organization's clients
/// see them; private ones belong to one organization. An organization id of null below always means the
/// server's offline packages. A (plugin id, version) names exactly one package in what any organization sees:
/// an upload that would make it name two is refused, and a private package may not use an offline plugin's id.
/// </summary>
public sealed class PluginStore(NpgsqlDataSource db, string dataDirectory)
{
    private const string Select = """
        SELECT p.id, p.organization_id, p.plugin_id, p.name, p.version, p.compatible, p.description, p.kind, p.sha256, p.size_bytes, p.uploaded_at,
               u.email AS uploaded_by
        FROM plugin_package p LEFT JOIN public.user_account u ON u.id = p.uploaded_by
        """;

    /// <summary>
    /// Where an upload waits while it is checked: the data directory, which the installers size and make writable for
    /// the service, not the system's temporary folder, which is often a small RAM-backed tmpfs (a package of the largest
    /// size allowed would then sit in memory).
    /// </summary>
    private string Incoming => Path.Combine(dataDirectory, "plugins", "incoming");

    /// <summary>Stores an organization's private package, or an offline package of the server's (null).</summary>
    public async Task<PluginRow> StoreAsync(long? organizationId, Stream upload, long maxBytes, long uploader, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(Incoming);
        var temp = Path.Combine(Incoming, Guid.NewGuid().ToString("N") + ".part");
        try
        {
            await using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.Asynchronous);
            string sha;
            long size = 0;
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
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
            }
            await file.FlushAsync(cancel);
            file.Position = 0;
            var manifest = PluginPackage.Inspect(file, maxBytes);
            file.Position = 0;
            return await RecordAsync(organizationId, manifest, sha, size, file, uploader, cancel);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private async Task<PluginRow> RecordAsync(long? organizationId, PluginManifest manifest, string sha, long size, Stream bytes, long uploader, CancellationToken cancel)
    {
        var kind = organizationId is null ? "offline" : "private";
        long id;
        await using (var connection = await db.OpenConnectionAsync(cancel))
        await using (var tx = await connection.BeginTransactionAsync(cancel))
        {
            // One upload of a plugin id at a time on every node, so two cannot both find it free.
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtextextended('plugin ' || @Id, 0))", new { manifest.Id }, tx);
            if (await HolderAsync(connection, tx, organizationId, manifest) is { } holder)
                throw Conflict(organizationId, manifest, holder);
            // Identical bytes are stored once. Held until the commit, the lock keeps a delete on another node from
            // removing bytes that this package is about to use.
            await PluginBlobs.LockAsync(connection, tx, sha);
            if (!await PluginBlobs.ExistsAsync(connection, tx, sha))
                await PluginBlobs.WriteAsync(connection, tx, sha, size, bytes, hash: null, cancel);
            id = await connection.ExecuteScalarAsync<long>("""
                INSERT INTO plugin_package (organization_id, plugin_id, name, version, compatible, description, kind, sha256, size_bytes, uploaded_by)
                VALUES (@organizationId, @Id, @Name, @Version, @Compatible, @Description, @kind, @sha, @size, @uploader) RETURNING id
                """, new { organizationId, manifest.Id, manifest.Name, manifest.Version, manifest.Compatible, manifest.Description, kind, sha, size, uploader }, tx);
            await AuditRepository.WriteAsync(connection, tx, uploader, organizationId, "plugin.uploaded", $"{manifest.Id} {manifest.Version}", kind);
            await tx.CommitAsync(cancel);
        }
        return (await FindAsync(organizationId, id))!;
    }

    /// <summary>A stream over a package's bytes (see <see cref="PluginBlobStream"/>), or null if the database does not hold them.</summary>
    public Task<PluginBlobStream?> OpenAsync(string sha256, CancellationToken cancel = default) => PluginBlobs.OpenAsync(db, sha256, cancel);

    private sealed record Holder(long? OrganizationId, string? OrganizationName, bool SameVersion);

    /// <summary>
    /// The package that the upload would collide with where it would be seen. An offline upload is seen by every
    /// organization: any package of the same id and version. A private one is seen by its own organization: its
    /// own package of that version, or any offline package of the plugin id, whatever its version, so that no
    /// tenant's version is ever taken for the vendor's (a "newer" one, say).
    /// </summary>
    private static Task<Holder?> HolderAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long? organizationId, PluginManifest manifest) =>
        connection.QueryFirstOrDefaultAsync<Holder?>("""
            SELECT p.organization_id, o.name AS organization_name, p.version = @Version AS same_version
            FROM plugin_package p LEFT JOIN organization o ON o.id = p.organization_id
            WHERE p.plugin_id = @Id
              AND CASE WHEN @organizationId::bigint IS NULL THEN p.version = @Version
                       ELSE p.organization_id IS NULL OR (p.organization_id = @organizationId AND p.version = @Version) END
            ORDER BY p.organization_id NULLS FIRST, p.version = @Version DESC LIMIT 1
            """, new { organizationId, manifest.Id, manifest.Version }, tx);

    private static PluginRejectedException Conflict(long? organizationId, PluginManifest manifest, Holder holder)
    {
        var pair = $"{manifest.Id} {manifest.Version}";
        if (holder.OrganizationId == organizationId)
            return new PluginRejectedException("duplicate_version", $"{pair} is in the repository already. Delete that version first, or raise the version.");
        return holder.OrganizationId is null
            ? new PluginRejectedException("offline_plugin_id",
                $"{manifest.Id} is the id of an offline plugin of the server (from the vendor's store), which every organization's clients see: " +
                "a private package may not use it, so that none of its versions is taken for the vendor's. Give your plugin an id of its own.")
            : new PluginRejectedException("ambiguous_version",
                $"{pair} is a private package of the organization \"{holder.OrganizationName}\" (ID {holder.OrganizationId}): an offline package with the " +
                "same id and version would make that organization's download ambiguous. Ask its admins to delete it, or raise the version.");
    }

    public async Task<PluginRow?> FindAsync(long? organizationId, long id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<PluginRow>(Select + " WHERE coalesce(p.organization_id, 0) = coalesce(@organizationId::bigint, 0) AND p.id = @id",
            new { organizationId, id });
    }

    /// <summary>An organization's private packages, or the server's offline ones (null).</summary>
    public async Task<IReadOnlyList<PluginRow>> ListAsync(long? organizationId, string? search)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<PluginRow>(Select + """
             WHERE coalesce(p.organization_id, 0) = coalesce(@organizationId::bigint, 0)
               AND (lower(p.plugin_id) LIKE @pattern ESCAPE '\' OR lower(p.name) LIKE @pattern ESCAPE '\')
             ORDER BY p.plugin_id, p.uploaded_at DESC
            """, new { organizationId, pattern = Pattern(search) })).AsList();
    }

    /// <summary>What a client sees: every offline package, and the private ones of its organizations.</summary>
    public async Task<IReadOnlyList<PluginRow>> VisibleAsync(IReadOnlyList<long> organizationIds, string? search, string? pluginId = null)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<PluginRow>(Select + """
             WHERE (p.organization_id IS NULL OR p.organization_id = ANY(@organizationIds))
               AND (lower(p.plugin_id) LIKE @pattern ESCAPE '\' OR lower(p.name) LIKE @pattern ESCAPE '\')
               AND (@pluginId::text IS NULL OR p.plugin_id = @pluginId)
             ORDER BY p.plugin_id, p.uploaded_at DESC
            """, new { organizationIds = organizationIds.ToArray(), pattern = Pattern(search), pluginId })).AsList();
    }

    /// <summary>Deletes one of an organization's private packages, or one of the server's offline ones (null).</summary>
    public async Task<bool> DeleteAsync(long? organizationId, long id, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(string Sha, string PluginId, string Version)?>("""
            DELETE FROM plugin_package WHERE coalesce(organization_id, 0) = coalesce(@organizationId::bigint, 0) AND id = @id
            RETURNING sha256, plugin_id, version
            """, new { organizationId, id }, tx);
        if (row is not { } deleted) return false;
        await PluginBlobs.DeleteIfUnusedAsync(connection, tx, deleted.Sha);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "plugin.deleted", $"{deleted.PluginId} {deleted.Version}");
        await tx.CommitAsync();
        return true;
    }

    private static string Pattern(string? search) => "%" + Accounts.Like.Escape((search ?? "").Trim().ToLowerInvariant()) + "%";
}
