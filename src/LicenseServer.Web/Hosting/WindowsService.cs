using System.Runtime.InteropServices;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Runs the server as a Windows service through the Service Control Manager's own API (advapi32),
/// because Microsoft.Extensions.Hosting.WindowsServices is not in this project's package source.
/// install.ps1 registers the service with "run --windows-service"; the SCM's Stop ends the host
/// gracefully, which also stops the embedded PostgreSQL.
/// </summary>
internal static class WindowsService
{
    private const int ServiceWin32OwnProcess = 0x10;
    private const int StateStopped = 1, StateStartPending = 2, StateStopPending = 3, StateRunning = 4;
    private const int AcceptStop = 1, AcceptShutdown = 4;
    private const int ControlStop = 1, ControlShutdown = 5, ControlInterrogate = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct ServiceStatus
    {
        public int ServiceType, CurrentState, ControlsAccepted, Win32ExitCode, ServiceSpecificExitCode, CheckPoint, WaitHint;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TableEntry
    {
        public IntPtr Name;
        public IntPtr Main;
    }

    private delegate void ServiceMain(int argc, IntPtr argv);
    private delegate int Handler(int control, int eventType, IntPtr eventData, IntPtr context);

    // DllImport rather than LibraryImport: the source-generated form needs unsafe code, and these run once per start.
    [DllImport("advapi32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool StartServiceCtrlDispatcherW([In] TableEntry[] table);

    [DllImport("advapi32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    private static extern IntPtr RegisterServiceCtrlHandlerExW(string name, Handler handler, IntPtr context);

    [DllImport("advapi32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool SetServiceStatus(IntPtr handle, ref ServiceStatus status);

    public const string Name = "KitLicenseServer";

    /// <summary>Blocks until the service stops. <paramref name="run"/> starts the host and completes when it has stopped.</summary>
    public static void Run(Func<CancellationToken, Task> run)
    {
        if (!OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("--windows-service runs on Windows only.");
        using var stop = new CancellationTokenSource();
        var handle = IntPtr.Zero;
        var status = new ServiceStatus { ServiceType = ServiceWin32OwnProcess, CurrentState = StateStartPending };
        Handler handler = (control, _, _, _) =>
        {
            if (control is ControlStop or ControlShutdown)
            {
                status.CurrentState = StateStopPending;
                status.WaitHint = 30_000;
                SetServiceStatus(handle, ref status);
                stop.Cancel();
            }
            else if (control == ControlInterrogate) SetServiceStatus(handle, ref status);
            return 0;
        };
        ServiceMain main = (_, _) =>
        {
            handle = RegisterServiceCtrlHandlerExW(Name, handler, IntPtr.Zero);
            status.CurrentState = StateRunning;
            status.ControlsAccepted = AcceptStop | AcceptShutdown;
            SetServiceStatus(handle, ref status);
            try
            {
                run(stop.Token).GetAwaiter().GetResult();
            }
            catch
            {
                status.Win32ExitCode = 1064; // ERROR_EXCEPTION_IN_SERVICE
            }
            status.CurrentState = StateStopped;
            status.ControlsAccepted = 0;
            SetServiceStatus(handle, ref status);
        };
        var name = Marshal.StringToHGlobalUni(Name);
        try
        {
            var table = new[] { new TableEntry { Name = name, Main = Marshal.GetFunctionPointerForDelegate(main) }, default };
            if (!StartServiceCtrlDispatcherW(table))
                throw new InvalidOperationException($"Could not connect to the Windows Service Control Manager (error {Marshal.GetLastPInvokeError()}). Start the server as a service, or without --windows-service.");
            GC.KeepAlive(main);
            GC.KeepAlive(handler);
        }
        finally
        {
            Marshal.FreeHGlobal(name);
        }
    }
}
