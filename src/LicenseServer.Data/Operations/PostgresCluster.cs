using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LicenseServer.Data.Operations;

/// <summary>
/// A private PostgreSQL cluster in a directory of ours, run with the machine's initdb/pg_ctl (and
/// the test fixture). initdb and postgres refuse to run as root: as root, they run as the
/// <c>postgres</c> system user on a directory it owns. It listens on 127.0.0.1 only, with a
/// generated superuser password kept beside the cluster, readable by the server's user alone.
/// </summary>
public sealed class PostgresCluster
{
    public const string Superuser = "kit";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private readonly string _binDirectory;
    private readonly ILogger _logger;
    private readonly string? _runAsUser;
    private readonly int _maxConnections;

    public PostgresCluster(string baseDirectory, int port, ILogger logger, string? binDirectory = null, int maxConnections = 100)
    {
        _maxConnections = maxConnections;
        BaseDirectory = Path.GetFullPath(baseDirectory);
        Port = port;
        _logger = logger;
        _binDirectory = FindBinDirectory(binDirectory);
        _runAsUser = !OperatingSystem.IsWindows() && Environment.IsPrivilegedProcess ? "postgres" : null;
    }

    public string BaseDirectory { get; }
    public string ClusterDirectory => Path.Combine(BaseDirectory, "pgsql");
    private string PasswordFile => Path.Combine(BaseDirectory, "pgsql.password");
    private string LogFile => Path.Combine(ClusterDirectory, "postmaster.log");
    public int Port { get; }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Password = File.ReadAllText(PasswordFile).Trim(),
        Database = database,
    }.ConnectionString;

    /// <summary>Finds pg_ctl: the configured folder, then PATH, then Debian's /usr/lib/postgresql/&lt;newest&gt;/bin.</summary>
    private static string Exe(string name) => OperatingSystem.IsWindows() ? name + ".exe" : name;

    /// <param name="tool">The program that folder must hold (pg_ctl and initdb for the cluster; pg_dump for a backup).</param>
    public static string FindBinDirectory(string? configured, string tool = "pg_ctl")
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (File.Exists(Path.Combine(configured, Exe(tool)))) return configured;
            throw new InvalidOperationException($"{tool} was not found in the configured PostgreSQL folder {configured}.");
        }
        string[] needed = tool == "pg_ctl" ? ["pg_ctl", "initdb"] : [tool];
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .FirstOrDefault(d => d.Length > 0 && needed.All(t => File.Exists(Path.Combine(d, Exe(t)))));
        if (onPath is not null) return onPath;
        const string debian = "/usr/lib/postgresql";
        var newest = Directory.Exists(debian)
            ? Directory.GetDirectories(debian)
                .Where(d => File.Exists(Path.Combine(d, "bin", tool)))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        return newest is not null ? Path.Combine(newest, "bin")
            : throw new InvalidOperationException(
                "No database is configured and PostgreSQL is not installed, so the embedded database cannot start. " +
                "Install PostgreSQL (Debian: apt-get install postgresql) or set Kit:Database:Url.");
    }

    /// <summary>What the cluster's programs say of their version: "pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)".</summary>
    public string ProgramVersion() => Execute("pg_ctl", ["--version"]).Output.Trim();

    /// <summary>Refuses programs older than <see cref="PostgresVersion.Minimum"/>, before they make or start a cluster.</summary>
    public void RequireSupportedVersion() =>
        PostgresVersion.Require(ProgramVersion(), $"the embedded PostgreSQL's programs in {_binDirectory}");

    public void EnsureInitialized()
    {
        if (File.Exists(Path.Combine(ClusterDirectory, "PG_VERSION"))) return;
        _logger.LogInformation("Initialising the embedded PostgreSQL cluster in {Directory}", ClusterDirectory);
        Directory.CreateDirectory(BaseDirectory);
        if (Directory.Exists(ClusterDirectory)) Directory.Delete(ClusterDirectory, recursive: true); // a half-made cluster from a crash
        Directory.CreateDirectory(ClusterDirectory);
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        WritePrivateFile(PasswordFile, password);
        var pwfile = Path.Combine(BaseDirectory, ".pgsql.pwfile"); // initdb wants an empty cluster directory
        WritePrivateFile(pwfile, password);
        GiveToRunAsUser(ClusterDirectory);
        GiveToRunAsUser(pwfile);
        try
        {
            Execute("initdb", ["-D", ClusterDirectory, "-U", Superuser, "--pwfile", pwfile, "-E", "UTF8", "--no-locale",
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256"]);
        }
        finally
        {
            File.Delete(pwfile);
        }
    }

    public void Start()
    {
        RequireSupportedVersion();
        EnsureInitialized();
        if (IsRunning())
        {
            _logger.LogInformation("The embedded PostgreSQL is already running on port {Port}; using it", Port);
            return;
        }
        _logger.LogInformation("Starting the embedded PostgreSQL on 127.0.0.1:{Port}", Port);
        var result = Execute("pg_ctl", ["start", "-w", "-t", "60", "-D", ClusterDirectory, "-l", LogFile, "-o",
            $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections={_maxConnections}"], throwOnError: false);
        if (result.ExitCode != 0)
        {
            var log = File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(5)) : "";
            throw new InvalidOperationException(
                $"The embedded PostgreSQL did not start on port {Port}: {result.Output}\n{log}\n" +
                "If another program uses that port, set Kit:Database:EmbeddedPort to a free one.");
        }
    }

    public bool IsRunning() => Execute("pg_ctl", ["status", "-D", ClusterDirectory], throwOnError: false).ExitCode == 0;

    public void Stop()
    {
        if (!IsRunning()) return;
        _logger.LogInformation("Stopping the embedded PostgreSQL");
        Execute("pg_ctl", ["stop", "-w", "-m", "fast", "-D", ClusterDirectory], throwOnError: false);
        NpgsqlConnection.ClearAllPools(); // pooled connections to the stopped cluster are dead; a restart must not reuse them
    }

    public void EnsureDatabase(string name)
    {
        using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        connection.Open();
        using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", name);
        if (exists.ExecuteScalar() is not null) return;
        using var create = new NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "\"\"")}\"", connection);
        create.ExecuteNonQuery();
    }

    private ProcessResult Execute(string program, IReadOnlyList<string> arguments, bool throwOnError = true)
    {
        var path = Path.Combine(_binDirectory, Exe(program));
        var result = _runAsUser is null
            ? ProcessRunner.Run(path, arguments, CommandTimeout)
            : ProcessRunner.Run("runuser", ["-u", _runAsUser, "--", path, .. arguments], CommandTimeout);
        if (throwOnError && result.ExitCode != 0)
            throw new InvalidOperationException($"{program} failed (exit {result.ExitCode}): {result.Output}");
        return result;
    }

    private void GiveToRunAsUser(string path)
    {
        if (_runAsUser is null) return;
        var chown = ProcessRunner.Run("chown", ["-R", $"{_runAsUser}:", path], CommandTimeout);
        if (chown.ExitCode != 0) throw new InvalidOperationException($"Could not give {path} to {_runAsUser}: {chown.Output}");
        var access = ProcessRunner.Run("runuser", ["-u", _runAsUser, "--", "test", "-r", path], CommandTimeout);
        if (access.ExitCode != 0)
            throw new InvalidOperationException(
                $"The embedded PostgreSQL runs as the '{_runAsUser}' user when the server runs as root, and that user cannot reach {path}. " +
                "Use a data directory outside private home folders (Kit:DataDirectory), or run the server as its own user.");
    }

    private static void WritePrivateFile(string path, string content) => Core.Security.OwnerOnlyFile.WriteAllText(path, content);
}
