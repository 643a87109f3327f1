namespace LicenseServer.Core.Security;

/// <summary>
/// Files that only their owner may read (keys, passwords, tokens, the setup code, backups): created owner-only
/// (0600) from their first byte, never made so afterwards. On Windows the folder's access rules decide.
/// </summary>
public static class OwnerOnlyFile
{
    public static FileStreamOptions Options(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return options;
    }

    /// <summary>A new file in place of any at <paramref name="path"/>, which is deleted first: it would keep its own mode.</summary>
    public static FileStream Replace(string path)
    {
        File.Delete(path);
        return new FileStream(path, Options(FileMode.CreateNew));
    }

    public static void WriteAllText(string path, string content)
    {
        using var writer = new StreamWriter(Replace(path));
        writer.Write(content);
    }
}
