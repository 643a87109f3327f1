using System.Runtime.InteropServices;
using LicenseServer.Bench;

// Exit codes: 0 the bench ran (targets may be MISSED: see the table), 1 the harness failed, 2 usage,
// 3 over-allocation: seats in use exceeded a quota at some sample.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var cancel = new CancellationTokenSource();
// Ctrl+C and SIGTERM end the run through the same cleanup as a normal end: the server and its PostgreSQL are stopped.
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

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

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}
