using System.Security.Cryptography;
using System.Text;

namespace LicenseServer.Client;

/// <summary>
/// A machine ID as the seeds describe it: stable for one machine and one OS account, different for
/// another account on the same machine. It hashes the OS's machine identity with the user name, so
/// neither is disclosed; 32 upper-case hex digits, safe in a file name (KSE_&lt;machineID&gt;.lic).
/// </summary>
public static class MachineId
{
    public static string Current() => Compute(MachineIdentity(), Environment.UserName);

    public static string Compute(string machineIdentity, string userName) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"kit-machine-id/1\n{machineIdentity.Trim()}\n{userName.Trim().ToLowerInvariant()}")))[..32];

    private static string MachineIdentity()
    {
        foreach (var path in new[] { "/etc/machine-id", "/var/lib/dbus/machine-id" })
            if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } id) return id;
        if (OperatingSystem.IsWindows())
        {
            var guid = WindowsMachineGuid();
            if (guid is not null) return guid;
        }
        return Environment.MachineName;
    }

    private static string? WindowsMachineGuid()
    {
        // HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid, read through reg.exe to stay free of Windows-only assemblies.
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("reg", ["query", @"HKLM\SOFTWARE\Microsoft\Cryptography", "/v", "MachineGuid"])
            { RedirectStandardOutput = true, UseShellExecute = false };
            using var process = System.Diagnostics.Process.Start(info);
            var output = process?.StandardOutput.ReadToEnd() ?? "";
            process?.WaitForExit(5000);
            return output.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).LastOrDefault(t => t.Count(c => c == '-') == 4);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
