using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LicenseServer.Core.Plugins;

public sealed record PluginManifest(string Id, string Name, string Version, string Compatible, string Description);

public sealed class PluginRejectedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>
/// Checks a plugin package before anything is stored: a zip, no entry outside the package
/// (zip slip), no zip bomb (entries that share data, or declared sizes out of bounds), and a manifest
/// (plugin.json) with an id, a name, a version and the compatible client versions.
/// </summary>
public static partial class PluginPackage
{
    public const string ManifestName = "plugin.json";
    public const int MaxEntries = 10_000;
    /// <summary>How far the declared unpacked size may exceed the upload limit before the package is taken for a zip bomb.</summary>
    public const int MaxExpansion = 10;
    /// <summary>
    /// How many times its own size a package may declare unpacked. Deflate gives at most about 1:1032,
    /// and a real plugin (jars and classes, compressed already) far less than 1:100.
    /// </summary>
    public const int MaxRatio = 100;

    /// <param name="zip">A seekable stream of the whole upload (its temporary file).</param>
    public static PluginManifest Inspect(Stream zip, long maxUploadBytes)
    {
        if (!zip.CanSeek) throw new ArgumentException("The package must be checked from a seekable stream.", nameof(zip));
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException)
        {
            if (StartsLikeAZip(zip)) throw Damaged();
            throw new PluginRejectedException("not_a_zip", "The package is not a .zip file. Upload the plugin package as the vendor's store or your build made it.");
        }
        using (archive)
        {
            if (archive.Entries.Count > MaxEntries)
                throw new PluginRejectedException("too_many_entries", $"The package has {archive.Entries.Count} entries; at most {MaxEntries} are accepted.");
            ZipArchiveEntry? manifest = null;
            foreach (var entry in archive.Entries)
            {
                var name = entry.FullName.Replace('\\', '/');
                if (name.StartsWith('/') || name.Contains(':') || name.Split('/').Any(part => part == ".."))
                    throw new PluginRejectedException("unsafe_path", $"The package has an entry named \"{Shorten(entry.FullName)}\" that points outside the package. It was refused.");
                if (name == ManifestName) manifest = entry;
            }
            CheckLayout(zip, archive, maxUploadBytes);
            if (manifest is null)
                throw new PluginRejectedException("no_manifest", $"The package has no {ManifestName} at its top level (with id, name, version and compatible).");
            if (manifest.Length > 64 * 1024)
                throw new PluginRejectedException("bad_manifest", $"{ManifestName} is larger than 64 KB.");
            using var stream = manifest.Open();
            return Parse(stream);
        }
    }

    /// <summary>
    /// Zip bombs, judged from where each entry's bytes lie and what the directory declares, before
    /// anything is unpacked. In order: the file holds every entry, no two entries share bytes, and the
    /// declared unpacked size stays under the absolute cap and under <see cref="MaxRatio"/> times the upload.
    /// </summary>
    private static void CheckLayout(Stream zip, ZipArchive archive, long maxUploadBytes)
    {
        IReadOnlyList<ZipDirectoryEntry> entries;
        try
        {
            entries = ZipDirectory.Read(zip, MaxEntries);
        }
        catch (InvalidDataException)
        {
            throw Damaged();
        }
        // The checks must judge the entries ZipArchive reads, not another directory hidden in the file.
        if (entries.Count != archive.Entries.Count
            || entries.Zip(archive.Entries).Any(pair => pair.First.CompressedSize != pair.Second.CompressedLength || pair.First.UncompressedSize != pair.Second.Length))
            throw Damaged();

        var length = zip.Length;
        if (entries.FirstOrDefault(entry => entry.DataEnd > length) is { } cut)
            throw new PluginRejectedException("truncated",
                $"The package is damaged: its entry \"{Shorten(cut.Name)}\" runs past the end of the file, as if the upload was cut short. Upload the whole package again.");

        // Sorted by where they start, two entries overlap exactly when some entry starts before the one before it ends.
        var byOffset = entries.OrderBy(entry => entry.LocalHeaderOffset).ToList();
        for (var i = 1; i < byOffset.Count; i++)
            if (byOffset[i].LocalHeaderOffset < byOffset[i - 1].DataEnd)
                throw new PluginRejectedException("overlapping_entries",
                    $"Entries of the package share their data (\"{Shorten(byOffset[i - 1].Name)}\" and \"{Shorten(byOffset[i].Name)}\"), which no zip tool makes. " +
                    "It was refused as a zip bomb.");

        var declared = entries.Aggregate(0L, (sum, entry) => sum > long.MaxValue - entry.UncompressedSize ? long.MaxValue : sum + entry.UncompressedSize);
        var cap = maxUploadBytes * MaxExpansion;
        if (declared > cap)
            throw new PluginRejectedException("zip_bomb",
                $"The package would unpack to {Size(declared)}, more than the {cap / (1024 * 1024)} MB a package may hold on this server ({MaxExpansion} times the upload limit). " +
                "It was refused as a zip bomb.");
        if (declared > length * MaxRatio)
            throw new PluginRejectedException("zip_bomb_ratio",
                $"The package would unpack to {Size(declared)} from an upload of {Size(length)}, more than {MaxRatio} times its size. It was refused as a zip bomb.");
    }

    private static PluginRejectedException Damaged() => new("damaged",
        "The package is damaged: its zip directory cannot be read. Upload the whole package again, as the vendor's store or your build made it.");

    /// <summary>A local file header first: a zip that was cut short or spoiled, rather than another kind of file.</summary>
    private static bool StartsLikeAZip(Stream zip)
    {
        Span<byte> start = stackalloc byte[4];
        zip.Position = 0;
        return zip.ReadAtLeast(start, 4, throwOnEndOfStream: false) == 4 && start.SequenceEqual("PK\u0003\u0004"u8);
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##} GB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MB",
        _ => $"{Math.Max(1, Math.Round(bytes / 1024.0)):0} KB",
    };

    private sealed record RawManifest(string? Id, string? Name, string? Version, string? Compatible, string? Description);

    private static PluginManifest Parse(Stream stream)
    {
        RawManifest? raw;
        try
        {
            raw = JsonSerializer.Deserialize<RawManifest>(stream, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        }
        catch (JsonException e)
        {
            throw new PluginRejectedException("bad_manifest", $"{ManifestName} is not valid JSON: {e.Message.Split(" Path:")[0]}");
        }
        if (raw is null) throw new PluginRejectedException("bad_manifest", $"{ManifestName} is empty.");
        // PostgreSQL text cannot hold a NUL, and the name and versions are shown on one line.
        if (new[] { raw.Name, raw.Compatible }.Any(t => t is not null && t.Any(char.IsControl))
            || (raw.Description ?? "").Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            throw new PluginRejectedException("bad_manifest", "The manifest's name, compatible or description holds a control character (such as \\u0000).");
        if (raw.Id is null || !IdPattern().IsMatch(raw.Id))
            throw new PluginRejectedException("bad_manifest", "The manifest's id must be letters, digits, '.', '-' or '_' (up to 100), e.g. com.example.slack-notifier.");
        if (string.IsNullOrWhiteSpace(raw.Name) || raw.Name.Length > 200)
            throw new PluginRejectedException("bad_manifest", "The manifest needs a name of up to 200 characters.");
        if (raw.Version is null || !VersionPattern().IsMatch(raw.Version))
            throw new PluginRejectedException("bad_version", $"The manifest's version \"{Shorten(raw.Version ?? "")}\" is not a version such as 1.2.0 or 2.0.1-beta.1.");
        if (string.IsNullOrWhiteSpace(raw.Compatible) || raw.Compatible.Length > 100)
            throw new PluginRejectedException("bad_manifest", "The manifest must say which client versions it works with (\"compatible\", e.g. \">=7.2.2\").");
        return new PluginManifest(raw.Id, raw.Name.Trim(), raw.Version, raw.Compatible.Trim(), (raw.Description ?? "").Trim() is var d && d.Length > 2000 ? d[..2000] : (raw.Description ?? "").Trim());
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^\d{1,9}\.\d{1,9}(\.\d{1,9})?(-[0-9A-Za-z.-]{1,40})?$")]
    private static partial Regex VersionPattern();
}
