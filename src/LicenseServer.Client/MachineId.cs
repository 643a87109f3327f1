using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LicenseServer.Client;

/// <summary>
/// A machine ID as the seeds describe it: stable for one machine and one OS account, different for
/// another account on the same machine. It hashes the OS's machine identity with the user name, so
/// neither is disclosed; 32 upper-case hex digits, safe in a file name (KSE_&lt;machineID&gt;.lic).
/// The algorithm, which every client implements alike, is in docs/client-protocol.md; the test vectors
/// in clients/test-vectors/machine-id.json hold inputs and the IDs they give.
/// </summary>
public static partial class MachineId
{
    public static string Current() => Compute(MachineIdentity(), Environment.UserName);

    /// <summary>
    /// The first 16 bytes, in upper-case hex, of SHA-256 over the UTF-8 of "kit-machine-id/1", a line feed, the machine
    /// identity trimmed, a line feed, and the user name trimmed and in lower case (Unicode's invariant lower case).
    /// </summary>
    public static string Compute(string machineIdentity, string userName) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"kit-machine-id/1\n{machineIdentity.Trim()}\n{userName.Trim().ToLowerInvariant()}")))[..32];

    /// <summary>
    /// The operating system's identity of this machine: systemd's machine ID on Linux, the MachineGuid that Windows
    /// keeps in its registry, the IOPlatformUUID of a Mac; the host name only when none of them can be read.
    /// </summary>
    private static string MachineIdentity()
    {
        foreach (var path in new[] { "/etc/machine-id", "/var/lib/dbus/machine-id" })
            if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } id) return id;
        if (OperatingSystem.IsWindows() && WindowsMachineGuid() is { } guid) return guid;
        if (OperatingSystem.IsMacOS() && MacPlatformUuid() is { } uuid) return uuid;
        return Environment.MachineName;
    }

    /// <summary>HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid, in the registry's 64-bit view (a 32-bit process would otherwise read its own copy).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    private static string? WindowsMachineGuid()
    {
        try
        {
            using var machine = Microsoft.Win32.RegistryKey.OpenBaseKey(Microsoft.Win32.RegistryHive.LocalMachine, Microsoft.Win32.RegistryView.Registry64);
            using var cryptography = machine.OpenSubKey(@"SOFTWARE\Microsoft\Cryptography");
            return cryptography?.GetValue("MachineGuid") is string { Length: > 0 } guid ? guid : null;
        }
        catch (Exception e) when (e is System.Security.SecurityException or UnauthorizedAccessException or IOException)
        {
            return null;
        }
    }

    /// <summary>The Mac's IOPlatformUUID, as <c>ioreg -rd1 -c IOPlatformExpertDevice</c> prints it.</summary>
    private static string? MacPlatformUuid()
    {
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("/usr/sbin/ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"])
            { RedirectStandardOutput = true, UseShellExecute = false };
            using var process = System.Diagnostics.Process.Start(info);
            var output = process?.StandardOutput.ReadToEnd() ?? "";
            process?.WaitForExit(5000);
            return PlatformUuidIn(output);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>The value of "IOPlatformUUID" in ioreg's output; null when there is none.</summary>
    public static string? PlatformUuidIn(string ioregOutput) =>
        PlatformUuidPattern().Match(ioregOutput) is { Success: true } match ? match.Groups[1].Value : null;

    [GeneratedRegex("\"IOPlatformUUID\"\\s*=\\s*\"([0-9A-Fa-f-]{36})\"")]
    private static partial Regex PlatformUuidPattern();
}
