using System.Runtime.InteropServices;
using LicenseServer.Bench;
using LicenseServer.Tooling;

using var cancel = new CancellationTokenSource();
// Ctrl+C and SIGTERM end the run through the same cleanup as a normal end: the server and its PostgreSQL are stopped.
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

return await CommandLineTool.InvokeAsync(CommandLineTool.Parse(BenchOptions.Command(RunAsync), args), Console.Out, Console.Error);

async Task<int> RunAsync(BenchOptions options)
{
    try
    {
        return await BenchRun.RunAsync(options, cancel.Token);
    }
    catch (OperationCanceledException) when (cancel.IsCancellationRequested)
    {
        Console.Error.WriteLine("Interrupted; the server and its PostgreSQL have been stopped.");
        return 1;
    }
    catch (Exception e)
    {
        Console.Error.WriteLine($"The bench failed: {e}");
        return 1;
    }
}

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}
