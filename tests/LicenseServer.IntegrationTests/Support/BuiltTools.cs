using LicenseServer.Data.Operations;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>The product's command-line programs as the build made them, run as processes of their own.</summary>
public static class BuiltTools
{
    /// <summary>kit-server, kit, kit-vendor or kit-bench, of the same configuration (Debug or Release) as these tests.</summary>
    public static string Dll(string tool)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var dll = tool switch
        {
            "kit-server" => ServerProcess.ServerDll,
            "kit" => RepoPaths.File($"src/LicenseServer.Cli/bin/{configuration}/net10.0/kit.dll"),
            "kit-vendor" => RepoPaths.File($"src/LicenseServer.Vendor/bin/{configuration}/net10.0/kit-vendor.dll"),
            "kit-bench" => RepoPaths.File($"bench/LicenseServer.Bench/bin/{configuration}/net10.0/kit-bench.dll"),
            _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, "Not one of the product's programs."),
        };
        Assert.That(File.Exists(dll), $"{dll} is built");
        return dll;
    }

    /// <summary>
    /// Runs a program to its end. Its data directory and home are <paramref name="scratch"/>, on a free port for an
    /// embedded PostgreSQL, so that a command that runs by mistake touches nothing of another test's.
    /// </summary>
    public static ProcessResult Run(string tool, string scratch, params string[] args) =>
        ProcessRunner.Run("dotnet", [Dll(tool), .. args], TimeSpan.FromMinutes(1), new Dictionary<string, string>
        {
            ["Kit__DataDirectory"] = scratch,
            ["Kit__Database__EmbeddedPort"] = FreePort.Next().ToString(),
            ["KIT_HOME"] = scratch,
        });
}
