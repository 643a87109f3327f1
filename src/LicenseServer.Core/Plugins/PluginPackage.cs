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
/// P1, P3: checks a plugin package before anything is stored: a zip, no entry outside the package
/// (zip slip), declared sizes within bounds (zip bomb), and a manifest (plugin.json) with an id,
/// a name, a version and the compatible client versions.
/// </summary>
public static partial class PluginPackage
{
    public const string ManifestName = "plugin.json";
    public const int MaxEntries = 10_000;
    /// <summary>How far the declared unpacked size may exceed the upload limit before the package is taken for a zip bomb.</summary>
    public const int MaxExpansion = 10;

    public static PluginManifest Inspect(Stream zip, long maxUploadBytes)
    {
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException)
        {
            throw new PluginRejectedException("not_a_zip", "The package is not a .zip file. Upload the plugin package as the vendor's store or your build made it.");
        }
        using (archive)
        {
            if (archive.Entries.Count > MaxEntries)
                throw new PluginRejectedException("too_many_entries", $"The package has {archive.Entries.Count} entries; at most {MaxEntries} are accepted.");
            long declared = 0;
            ZipArchiveEntry? manifest = null;
            foreach (var entry in archive.Entries)
            {
                var name = entry.FullName.Replace('\\', '/');
                if (name.StartsWith('/') || name.Contains(':') || name.Split('/').Any(part => part == ".."))
                    throw new PluginRejectedException("unsafe_path", $"The package has an entry named \"{Shorten(entry.FullName)}\" that points outside the package. It was refused.");
                declared += entry.Length;
                if (entry.Length < 0 || declared > maxUploadBytes * MaxExpansion)
                    throw new PluginRejectedException("zip_bomb",
                        $"The package would unpack to more than {maxUploadBytes * MaxExpansion / (1024 * 1024)} MB, far more than it weighs: it was refused as a zip bomb.");
                if (name == ManifestName) manifest = entry;
            }
            if (manifest is null)
                throw new PluginRejectedException("no_manifest", $"The package has no {ManifestName} at its top level (with id, name, version and compatible).");
            if (manifest.Length > 64 * 1024)
                throw new PluginRejectedException("bad_manifest", $"{ManifestName} is larger than 64 KB.");
            using var stream = manifest.Open();
            return Parse(stream);
        }
    }

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
