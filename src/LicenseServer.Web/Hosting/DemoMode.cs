namespace LicenseServer.Web.Hosting;

/// <summary>
/// Demo mode trusts a locally made vendor key besides the built-in one. It is for the demo, the tests and the
/// bench, which run a build from source; the release artefacts (packaging/build.sh) are built without it, so no
/// setting of a shipped server can make it trust a key the vendor did not make.
/// </summary>
public static class DemoMode
{
#if KIT_RELEASE_BUILD
    public static bool AllowedInThisBuild { get; } = false;
#else
    public static bool AllowedInThisBuild { get; } = true;
#endif

    /// <summary>Throws <see cref="StartupException"/> when the settings ask a release build for demo mode.</summary>
    public static void Check(DemoOptions demo)
    {
        if (AllowedInThisBuild || (!demo.Enabled && string.IsNullOrWhiteSpace(demo.VendorPublicKeyFile))) return;
        throw new StartupException(
            "This is a release build of Kit License Server: it trusts only the vendor key built into it, and demo mode " +
            "(Kit:Demo:Enabled, Kit:Demo:VendorPublicKeyFile) is available only in a demo build made from source (installer/demo.sh). " +
            "Remove the Kit:Demo settings and start again.");
    }
}
