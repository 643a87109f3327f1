using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LicenseServer.Bench.Pages;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Data.Operations;
using LicenseServer.Web.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace LicenseServer.Bench.Server;

/// <summary>
/// The built kit-server, run as a child process on a fresh data directory with the embedded PostgreSQL (the
/// default), activated with a .lic that a bench vendor key issues from its own license request. Disposing
/// stops it with SIGTERM (kit-server then stops its PostgreSQL), kills it if it does not stop, stops a
/// PostgreSQL left behind, and deletes the data directory.
/// </summary>
public sealed class KitServerProcess : IAsyncDisposable
{
    public const string FloatingProduct = "KRE";
    public const string PerUserProduct = "KSE";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly string[] _settings;
    private readonly bool _keepData;
    private readonly Queue<string> _output = new();
    private Process? _process;

    private KitServerProcess(string dataDirectory, int httpPort, int databasePort, string[] settings, bool keepData)
    {
        DataDirectory = dataDirectory;
        DatabasePort = databasePort;
        BaseUrl = $"http://127.0.0.1:{httpPort}";
        _settings = settings;
        _keepData = keepData;
        Cluster = new PostgresCluster(dataDirectory, databasePort, NullLogger.Instance);
    }

    public string DataDirectory { get; }
    public int DatabasePort { get; }
    public string BaseUrl { get; }
    /// <summary>The server's embedded cluster, seen from the bench: its connection string and its stop.</summary>
    public PostgresCluster Cluster { get; }
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("The server is not running.");
    public string PostmasterLog => Path.Combine(Cluster.ClusterDirectory, "postmaster.log");

    /// <summary>The superuser connection string of the server's database, read from the password file the cluster keeps.</summary>
    public string ConnectionString(int maxPoolSize = 4) =>
        new Npgsql.NpgsqlConnectionStringBuilder(Cluster.ConnectionString(DatabaseBootstrap.DatabaseName)) { MaxPoolSize = maxPoolSize, ApplicationName = "kit-bench" }.ConnectionString;

    public string RecentOutput { get { lock (_output) return string.Join('\n', _output); } }

    /// <summary>kit-server.dll of the same configuration as this bench (bin/Release/net10.0 next to bin/Release/net10.0).</summary>
    public static string ServerDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var dll = Path.Combine(RepoRoot, "src", "LicenseServer.Web", "bin", configuration, "net10.0", "kit-server.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the server first: {dll} is missing.");
        }
    }

    public static string RepoRoot { get; } = FindRoot();

    /// <summary>The .lic the server was activated with, which every signed file it hands out carries.</summary>
    public string LicenseText { get; private set; } = "";

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LicenseServer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("LicenseServer.sln was not found above the bench's folder.");
    }

    public static async Task<KitServerProcess> StartAsync(BenchOptions options, Action<string> log, CancellationToken cancel)
    {
        // Not Directory.CreateTempSubdirectory: its mode 700 keeps out the postgres user that runs the cluster when we are root.
        var dataDirectory = Path.Combine(Path.GetTempPath(), "kit-bench-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dataDirectory);
        var (httpPort, databasePort) = (FreePort(), FreePort());
        while (databasePort == httpPort) databasePort = FreePort();
        var vendor = PrivateKey.Generate();
        var vendorPublicKey = Path.Combine(dataDirectory, "bench-vendor.pub");
        await File.WriteAllTextAsync(vendorPublicKey, KeyFiles.WritePublic(vendor.PublicKey), cancel);
        string[] settings =
        [
            $"--Kit:DataDirectory={dataDirectory}",
            $"--Kit:Database:EmbeddedPort={databasePort}",
            $"--Kit:Logs:Directory={Path.Combine(dataDirectory, "logs")}",
            "--Kit:Logs:ConsoleLevel=Warn",
            "--Kit:Demo:Enabled=true",
            $"--Kit:Demo:VendorPublicKeyFile={vendorPublicKey}",
            $"--Kit:ServerUrl=http://127.0.0.1:{httpPort}",
            $"--Urls=http://127.0.0.1:{httpPort}",
        ];
        var server = new KitServerProcess(dataDirectory, httpPort, databasePort, settings, options.KeepData);
        try
        {
            log($"Data directory {dataDirectory}; HTTP port {httpPort}, embedded PostgreSQL port {databasePort}");
            var request = Path.Combine(dataDirectory, "bench-request.json");
            server.Command(["license-request", "--out", request]);
            var lic = Path.Combine(dataDirectory, "bench.lic");
            server.LicenseText = IssueLicense(LicenseRequest.Parse(await File.ReadAllTextAsync(request, cancel)), vendor, options);
            await File.WriteAllTextAsync(lic, server.LicenseText, cancel);
            log(server.Command(["activate", "--file", lic]));
            // The password goes through stdin, not the process list; the bench never signs in as this account.
            server.Command(["create-default-account", "--email", "admin@bench.example"], Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(18)));
            await server.RunAsync(cancel);
            log($"kit-server is ready at {server.BaseUrl} (pid {server.ProcessId})");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private static string IssueLicense(LicenseRequest request, PrivateKey vendor, BenchOptions options)
    {
        var now = DateTimeOffset.UtcNow;
        var until = now.AddDays(365);
        var order = new LicenseOrder("Bench Corp", request.CompanyId, request.InstallationId, request.ServerPublicKey, now.AddDays(-1), until,
        [
            LicenseIssuer.ParseProduct($"{FloatingProduct}:floating:{options.FloatingQuota + ConsolePages.Sessions}:annual:Runtime Engine", until),
            LicenseIssuer.ParseProduct($"{PerUserProduct}:per-user:{options.PerUserQuota + ConsolePages.Members}:annual:Studio Enterprise", until),
        ]);
        return LicenseIssuer.Issue(order, vendor, now.AddMinutes(-1)).ToText();
    }

    /// <summary>A one-off kit-server command (it starts and stops the embedded cluster itself).</summary>
    private string Command(string[] arguments, string? stdin = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        foreach (var argument in (string[])[ServerDll, .. arguments, .. _settings]) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        if (stdin is not null)
        {
            process.StandardInput.WriteLine(stdin);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"kit-server {arguments[0]} did not finish within {CommandTimeout.TotalMinutes} minutes.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"kit-server {arguments[0]} failed (exit {process.ExitCode}): {stdout.Result}{stderr.Result}");
        return stdout.Result.Trim();
    }

    private async Task RunAsync(CancellationToken cancel)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])[ServerDll, "run", .. _settings]) info.ArgumentList.Add(argument);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                using var response = await http.GetAsync(BaseUrl + "/health/ready", cancel);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!cancel.IsCancellationRequested) { }
            await Task.Delay(200, cancel);
        }
        throw new InvalidOperationException($"kit-server did not become ready:\n{RecentOutput}");
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 200) _output.Dequeue();
        }
    }

    /// <summary>VmRSS and VmHWM of the server process, in bytes (0 when unreadable).</summary>
    public (long Rss, long Peak) Memory()
    {
        try
        {
            long rss = 0, peak = 0;
            foreach (var line in File.ReadLines($"/proc/{ProcessId}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line) * 1024;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kilobytes(line) * 1024;
            }
            return (rss, peak);
        }
        catch (IOException)
        {
            return (0, 0);
        }

        static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                ProcessRunner.Run("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
                if (!_process.WaitForExit(TimeSpan.FromSeconds(30))) _process.Kill(entireProcessTree: true);
            }
            await _process.WaitForExitAsync();
            _process.Dispose();
            _process = null;
        }
        try
        {
            Cluster.Stop(); // a no-op when kit-server stopped it; a straggler after a crash or a kill otherwise
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            Console.Error.WriteLine($"Could not stop the embedded PostgreSQL in {Cluster.ClusterDirectory}: {e.Message}");
        }
        if (!_keepData)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Could not delete {DataDirectory}: {e.Message}");
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
