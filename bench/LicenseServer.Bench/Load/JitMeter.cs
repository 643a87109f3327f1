using System.Globalization;

namespace LicenseServer.Bench.Load;

/// <summary>The server's JIT so far, from its /metrics: methods compiled and seconds spent compiling.</summary>
public sealed record JitUse(double Methods, double Seconds)
{
    public static JitUse Between(JitUse before, JitUse after) => new(after.Methods - before.Methods, after.Seconds - before.Seconds);
}

/// <summary>
/// Reads the server's JIT counters. A server compiles its hot code again, optimized, in its first minutes
/// under load (tiered compilation); the bench warms it up until that has settled, and says how much JIT time
/// each phase still held, since it counts in the phase's server CPU.
/// </summary>
public sealed class JitMeter(string baseUrl) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };

    public async Task<JitUse> TakeAsync(CancellationToken cancel)
    {
        var text = await _http.GetStringAsync("/metrics", cancel);
        return new JitUse(Value(text, "dotnet_jit_compiled_methods_total"), Value(text, "dotnet_jit_compilation_seconds_total"));
    }

    private static double Value(string text, string name)
    {
        // A series without labels: "name value", or "name{} value" as the exporter writes it.
        foreach (var line in text.AsSpan().EnumerateLines())
            foreach (var prefix in new[] { name + " ", name + "{} " })
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                    return double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"The server's /metrics has no {name}.");
    }

    public void Dispose() => _http.Dispose();
}
