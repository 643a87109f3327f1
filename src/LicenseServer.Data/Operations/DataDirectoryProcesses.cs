using System.Diagnostics;
using System.Globalization;

namespace LicenseServer.Data.Operations;

/// <summary>
/// The kit-server processes that use one data directory: the server and the one-off commands run beside it
/// (backup, reset-password …). Each writes a file named by its process id under <c>run/</c>, holding its start
/// time and what it is, and removes it when it ends. A file whose process is gone, or whose id now belongs to
/// another program (the start times differ), is left over from a crash and does not count.
/// This is what lets a command use the embedded PostgreSQL a running server started without stopping it, and
/// lets restore refuse while a server runs.
/// </summary>
public sealed class DataDirectoryProcesses(string dataDirectory)
{
    public const string Server = "server";

    public sealed record Entry(int ProcessId, string Role);

    private string Folder => Path.Combine(dataDirectory, "run");

    /// <summary>
    /// Held while a process decides whether to start or stop the embedded cluster, so that a server starting
    /// while a command ends never sees the cluster stop under it. Every process of the data directory takes it.
    /// </summary>
    public IDisposable Lock(TimeSpan timeout)
    {
        Directory.CreateDirectory(Folder);
        var path = Path.Combine(Folder, "lock");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None: an exclusive lock of the file for as long as it is open (flock on Unix).
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < timeout)
            {
                Thread.Sleep(100);
            }
            catch (IOException e)
            {
                throw new InvalidOperationException($"Another kit-server process holds {path} for longer than {timeout.TotalSeconds:0} s; try again when it has finished.", e);
            }
        }
    }

    /// <summary>Records this process; disposing the result removes it.</summary>
    public IDisposable Register(string role)
    {
        Directory.CreateDirectory(Folder);
        using var self = Process.GetCurrentProcess();
        var path = Path.Combine(Folder, self.Id.ToString(CultureInfo.InvariantCulture) + ".process");
        File.WriteAllText(path, $"{StartTicks(self)} {role}");
        return new Registration(path);
    }

    /// <summary>The other processes of the data directory that are alive; left-over files are removed on the way.</summary>
    public IReadOnlyList<Entry> Others()
    {
        if (!Directory.Exists(Folder)) return [];
        var selfId = Environment.ProcessId;
        var live = new List<Entry>();
        foreach (var file in Directory.GetFiles(Folder, "*.process"))
        {
            if (!int.TryParse(Path.GetFileNameWithoutExtension(file), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == selfId) continue;
            string[] fields;
            try { fields = File.ReadAllText(file).Split(' ', 2); }
            catch (FileNotFoundException) { continue; } // it ended while we looked
            if (fields.Length == 2 && long.TryParse(fields[0], CultureInfo.InvariantCulture, out var started) && IsAlive(pid, started))
                live.Add(new Entry(pid, fields[1].Trim()));
            else
                TryDelete(file);
        }
        return live;
    }

    private static bool IsAlive(int pid, long startTicks)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            // Within a second: two processes may work the start time out from the boot time slightly differently.
            return Math.Abs(StartTicks(process) - startTicks) < TimeSpan.TicksPerSecond;
        }
        catch (ArgumentException)
        {
            return false; // no process has that id
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or UnauthorizedAccessException)
        {
            return true; // it exists and we may not look closer (another account's process on Windows): count it, never stop its database
        }
    }

    private static long StartTicks(Process process) => process.StartTime.ToUniversalTime().Ticks;

    private static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed class Registration(string path) : IDisposable
    {
        public void Dispose() => TryDelete(path);
    }
}
