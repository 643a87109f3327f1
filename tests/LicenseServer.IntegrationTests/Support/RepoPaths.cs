namespace LicenseServer.IntegrationTests.Support;

public static class RepoPaths
{
    /// <summary>The checkout's root: the folder above the tests that holds LicenseServer.sln.</summary>
    public static string Root { get; } = FindRoot();

    public static string File(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "LicenseServer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("LicenseServer.sln was not found above the test folder.");
    }
}
