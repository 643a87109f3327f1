using LicenseServer.Data.Plugins;

namespace LicenseServer.Web.Hosting;

/// <summary>The confirmation of a plugin version's deletion: which version, and what clients keep of the plugin.</summary>
public static class PluginDeletion
{
    /// <summary>Null when <paramref name="id"/> is not among <paramref name="versions"/> (the packages the page manages).</summary>
    public static Confirmation? Ask(IReadOnlyList<PluginRow> versions, long id)
    {
        if (versions.FirstOrDefault(v => v.Id == id) is not { } version) return null;
        var others = versions.Count(v => v.PluginId == version.PluginId && v.Id != id);
        return new Confirmation($"Delete {version.Name} {version.Version}?",
            "Clients can no longer download this version. " + (others == 0
                ? $"It is the only version of {version.PluginId}: the plugin disappears from the repository."
                : $"{Confirmation.Count(others, "other version", "other versions")} of {version.PluginId} stay."),
            "Delete", "Delete", new Dictionary<string, string> { ["id"] = $"{id}" });
    }
}
