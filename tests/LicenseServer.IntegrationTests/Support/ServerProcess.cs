using System.Diagnostics;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>The built kit-server run as a separate OS process: a second node on the same database.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private ServerProcess(Process process, string baseUrl, string dataDirectory)
    {
        _process = process;
        BaseUrl = baseUrl;
        DataDirectory = dataDirectory;
    }

    public string BaseUrl { get; }

    /// <summary>The node's own data directory, never another node's: nodes share only the database (and the secrets key file).</summary>
    public string DataDirectory { get; }

    public int ProcessId => _process.Id;
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>kit-server.dll of the same configuration (Debug or Release) as these tests.</summary>
    public static string ServerDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var dll = RepoPaths.File($"src/LicenseServer.Web/bin/{configuration}/net10.0/kit-server.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the server first: {dll} is missing.");
        }
    }

    /// <summary>A node with a new data directory of its own.</summary>
    public static Task<ServerProcess> StartAsync(string connectionString, params string[] settings) =>
        StartInAsync(Path.Combine(Path.GetTempPath(), "kit-node-" + Guid.NewGuid().ToString("N")[..8]), connectionString, settings);

    /// <summary>A node on <paramref name="dataDirectory"/>, e.g. one that an older version left; it is deleted when the node is disposed.</summary>
    public static async Task<ServerProcess> StartInAsync(string dataDirectory, string connectionString, params string[] settings)
    {
        var port = FreePort.Next();
        var args = TestServer.Arguments(connectionString, dataDirectory, [.. settings, $"--Urls=http://127.0.0.1:{port}"]);
        var info = new ProcessStartInfo("dotnet", [ServerDll, "run", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        var process = Process.Start(info)!;
        var node = new ServerProcess(process, $"http://127.0.0.1:{port}", dataDirectory);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(node.BaseUrl + "/health/ready");
                if (response.IsSuccessStatusCode) return node;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        await node.DisposeAsync();
        throw new InvalidOperationException($"The second server did not become ready:\n{node.Output}");
    }

    /// <summary>A one-off command of kit-server.dll (backup, migrate …) run to its end as a process of its own.</summary>
    public static Data.Operations.ProcessResult Command(string verb, params string[] args) =>
        Data.Operations.ProcessRunner.Run("dotnet", [ServerDll, verb, .. args], TimeSpan.FromMinutes(2));

    /// <summary>kill -9: the process ends at once, in the middle of whatever it was doing.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false); // SIGKILL on Unix
        await _process.WaitForExitAsync();
    }

    private bool _disposed;

    /// <summary>SIGTERM, as systemd stops the service; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            Data.Operations.ProcessRunner.Run("kill", ["-TERM", _process.Id.ToString()], TimeSpan.FromSeconds(5));
            if (!_process.WaitForExit(TimeSpan.FromSeconds(20))) _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
