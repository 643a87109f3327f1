using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Packaging;

/// <summary>
/// Builds the .deb and the linux archive with packaging/build.sh, installs the archive with
/// install.sh into a temporary root (--no-systemd: no systemd runs here), upgrades it, uninstalls it; installs
/// the .deb into another root with dpkg --root (its maintainer scripts honour DPKG_ROOT) and runs lintian on it.
/// </summary>
/// <remarks>
/// It runs alongside other tests (see Parallelism.cs): its publish builds into the linux-x64 folders of bin/ and
/// obj/, which no other test reads (they start bin/Release/net10.0/kit-server.dll), and it installs into a
/// temporary root. The one other test that builds, QuickStartTests, runs alone.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class PackagingTests
{
    private string _work = null!;
    private string _archive = null!;
    private string _deb = null!;
    private string _unpacked = null!;
    /// <summary>Roots this run installed into and has not uninstalled: a failed test leaves no server (and no embedded PostgreSQL on its port) to the next.</summary>
    private readonly List<string> _installed = [];

    [OneTimeSetUp]
    public void Build()
    {
        Assume.That(Environment.IsPrivilegedProcess, "the installer creates a system user: run as root (CI does)");
        _work = Directory.CreateTempSubdirectory("kit-packaging-").FullName;
        File.SetUnixFileMode(_work, (UnixFileMode)0b111_101_101);
        var build = ProcessRunner.Run("bash", [RepoPaths.File("packaging/build.sh"), "--targets", "linux,deb", "--out", Path.Combine(_work, "out")], TimeSpan.FromMinutes(10));
        Assert.That(build.ExitCode, Is.Zero, build.Output);
        var version = typeof(LicenseServer.Web.Hosting.ServerHost).Assembly.GetName().Version!.ToString(3);
        _archive = Path.Combine(_work, "out", $"kit-license-server-{version}-linux-x64.tar.gz");
        _deb = Path.Combine(_work, "out", $"kit-license-server_{version}_amd64.deb");
        Assert.That(File.Exists(_archive) && File.Exists(_deb), build.Output);
        var unpack = ProcessRunner.Run("tar", ["-C", _work, "-xzf", _archive], TimeSpan.FromMinutes(2));
        Assert.That(unpack.ExitCode, Is.Zero, unpack.Output);
        _unpacked = Path.Combine(_work, $"kit-license-server-{version}");
    }

    [TearDown]
    public void StopLeftovers()
    {
        foreach (var root in _installed) Script("uninstall.sh", "--root", root);
        _installed.Clear();
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    private ProcessResult Script(string script, params string[] args) =>
        ProcessRunner.Run("bash", [Path.Combine(_unpacked, script), .. args], TimeSpan.FromMinutes(5));

    private static ProcessResult Run(string program, params string[] args) => ProcessRunner.Run(program, args, TimeSpan.FromMinutes(2));

    private static string Owner(string path) => Run("stat", "-c", "%U", path).Output.Trim();

    /// <summary>A fresh install.sh installation under a new root, on plain HTTP with the embedded PostgreSQL.</summary>
    private string Install(int port, string serverUrl)
    {
        var root = Path.Combine(_work, "root-" + Guid.NewGuid().ToString("N")[..6]);
        _installed.Add(root);
        var install = Script("install.sh", "--root", root, "--no-systemd", "--port", port.ToString(), "--yes", "--db-url", "", "--server-url", serverUrl);
        Assert.That(install.ExitCode, Is.Zero, install.Output);
        return root;
    }

    private ProcessResult Uninstall(string root)
    {
        _installed.Remove(root);
        return Script("uninstall.sh", "--root", root);
    }

    private static string Settings(string root) => Path.Combine(root, "etc/kit-license-server/appsettings.json");

    /// <summary>Edits the installation's settings as IT would, and leaves a comment in them (the server allows comments).</summary>
    private static void EditSettings(string root, Action<JsonObject> edit)
    {
        var path = Settings(root);
        var settings = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        edit(settings);
        File.WriteAllText(path, "// Edited by IT after the installation.\n" + settings.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>The test certificate's PEM files in the configuration directory, readable by root and the kit group, as Https.cs reads them.</summary>
    private static (string Certificate, string Key) InstallCertificate(string root, TestCertificate certificate)
    {
        var (pem, pemKey) = certificate.WritePem();
        var directory = Path.Combine(root, "etc/kit-license-server/https");
        Directory.CreateDirectory(directory);
        var (crt, key) = (Path.Combine(directory, "server.crt"), Path.Combine(directory, "server.key"));
        File.Copy(pem, crt);
        File.Copy(pemKey, key);
        Assert.That(Run("chown", "-R", "root:kit", directory).ExitCode, Is.Zero);
        Assert.That(Run("chmod", "-R", "u=rwX,g=rX,o=", directory).ExitCode, Is.Zero);
        return (crt, key);
    }

    [Test]
    public void The_shipped_server_refuses_demo_mode_whatever_its_settings_say()
    {
        // Demo mode trusts a locally made vendor key; a customer's own key would then sign any .lic they like.
        var server = Path.Combine(_unpacked, "server", "kit-server");
        foreach (var setting in new[] { "--Kit:Demo:Enabled=true", "--Kit:Demo:VendorPublicKeyFile=/tmp/my-own-vendor.pub" })
        {
            var run = ProcessRunner.Run(server, ["run", setting, "--Kit:DataDirectory=" + Path.Combine(_work, "demo-data"), "--Kit:Database:Url=postgres://127.0.0.1:1/none"],
                TimeSpan.FromMinutes(1));
            Assert.That(run.ExitCode, Is.Not.Zero, setting);
            Assert.That(run.Output, Does.Contain("This is a release build of Kit License Server").And.Contain("Remove the Kit:Demo settings"), setting);
        }
        Assert.That(ProcessRunner.Run(server, ["version"], TimeSpan.FromMinutes(1)).ExitCode, Is.Zero, "without demo settings it runs");
    }

    [Test]
    public void The_deb_holds_the_installed_layout_and_a_hardened_unit_that_runs_as_kit()
    {
        var info = ProcessRunner.Run("dpkg-deb", ["--info", _deb], TimeSpan.FromMinutes(1));
        Assert.That(info.Output, Does.Contain("Package: kit-license-server").And.Contain("Architecture: amd64").And.Contain("Recommends: postgresql"));
        var contents = ProcessRunner.Run("dpkg-deb", ["--contents", _deb], TimeSpan.FromMinutes(1)).Output;
        foreach (var path in new[] { "./opt/kit-license-server/bin/kit-server", "./lib/systemd/system/kit-license-server.service", "./usr/bin/kit-server",
                     "./usr/share/doc/kit-license-server/copyright", "./usr/share/doc/kit-license-server/install.md.gz",
                     "./usr/share/doc/kit-license-server/configuration.md.gz", "./usr/share/doc/kit-license-server/admin-guide.md.gz" })
            Assert.That(contents, Does.Contain(path));
        // The postinst makes the settings once, for this host; a shipped file would be a conffile it may not change.
        Assert.That(contents, Does.Not.Contain("./etc/kit-license-server/appsettings.json"));

        var extracted = Path.Combine(_work, "deb");
        Assert.That(ProcessRunner.Run("dpkg-deb", ["-x", _deb, extracted], TimeSpan.FromMinutes(2)).ExitCode, Is.Zero);
        var unit = File.ReadAllText(Path.Combine(extracted, "lib/systemd/system/kit-license-server.service"));
        foreach (var line in new[] { "User=kit", "Type=notify", "NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true",
                     "ExecStart=/opt/kit-license-server/bin/kit-server run", "Environment=KIT_CONFIG=/etc/kit-license-server/appsettings.json" })
            Assert.That(unit, Does.Contain(line + "\n"), line);
        Assert.That(unit, Does.Not.Contain("@"), "every placeholder is filled in");
    }

    [Test]
    public async Task Install_into_a_temporary_root_upgrade_in_place_and_uninstall_keeping_data()
    {
        var root = Path.Combine(_work, "root");
        _installed.Add(root);
        var port = FreePort.Next();
        var install = Script("install.sh", "--root", root, "--no-systemd", "--port", port.ToString(), "--yes", "--db-url", "", "--server-url", $"http://licenses.test:{port}");
        Assert.That(install.ExitCode, Is.Zero, install.Output);
        Assert.That(install.Output, Does.Contain($"Open http://licenses.test:{port}/Activate").And.Contain($"{root}/var/lib/kit-license-server/setup-code"),
            "the installer says where the setup code will be");

        foreach (var doc in new[] { "README.md", "docs/install.md", "docs/configuration.md", "docs/admin-guide.md", "docs/operations.md" })
            Assert.That(File.Exists(Path.Combine(root, "opt/kit-license-server", doc)), $"{doc} is installed beside the server");

        var config = Path.Combine(root, "etc/kit-license-server/appsettings.json");
        Assert.That(File.GetUnixFileMode(config), Is.EqualTo((UnixFileMode)0b110_100_000), "the config is readable by root and the kit group only");
        Assert.That(File.GetUnixFileMode(Path.Combine(root, "var/lib/kit-license-server")), Is.EqualTo((UnixFileMode)0b111_101_000));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var before = await http.GetFromJsonAsync<JsonElement>("/api/v1/server");
        var owner = ProcessRunner.Run("stat", ["-c", "%U", Path.Combine(root, "var/lib/kit-license-server/pgsql")], TimeSpan.FromSeconds(10)).Output.Trim();
        Assert.That(owner, Is.EqualTo("kit"), "the server and its embedded PostgreSQL run as the kit user");
        var secretsKey = Path.Combine(root, "var/lib/kit-license-server/secrets.key");
        Assert.That(install.Output, Does.Contain($"Made the secrets key file {secretsKey}"));
        Assert.That(File.GetUnixFileMode(secretsKey), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "the secrets key is the kit user's alone");
        Assert.That(ProcessRunner.Run("stat", ["-c", "%U", secretsKey], TimeSpan.FromSeconds(10)).Output.Trim(), Is.EqualTo("kit"));
        var keyBefore = File.ReadAllText(secretsKey);

        // kit-server on PATH: the installation's settings, run as the service's user when root calls it.
        var command = Path.Combine(root, "usr/local/bin/kit-server");
        Assert.That(install.Output, Does.Contain("sudo kit-server"), "the installer names the command");
        var version = Run(command, "version");
        Assert.That((version.ExitCode, version.Output), Is.EqualTo((0, $"Kit License Server {typeof(LicenseServer.Web.Hosting.ServerHost).Assembly.GetName().Version!.ToString(3)}")));
        var backups = Path.Combine(_work, "backups");
        Directory.CreateDirectory(backups);
        Assert.That(Run("chown", "kit:kit", backups).ExitCode, Is.Zero);
        var backupFile = Path.Combine(backups, "kit.tar.gz");
        var backup = Run(command, "backup", "--out", backupFile);
        Assert.That(backup.ExitCode, Is.Zero, backup.Output);
        Assert.That(Owner(backupFile), Is.EqualTo("kit"), "the backup belongs to the service's user, not to root");
        // The pid file of --no-systemd is root's on purpose (start-stop-daemon writes it): the kit user may not choose what root stops.
        var rootOwned = Run("find", Path.Combine(root, "var/lib/kit-license-server"), "-user", "root", "!", "-name", "kit-server.pid");
        Assert.That((rootOwned.ExitCode, rootOwned.Output), Is.EqualTo((0, "")), "nothing in the data directory belongs to root after root ran a command");
        var elsewhere = ProcessRunner.Run(command, ["check-database"], TimeSpan.FromMinutes(1), new Dictionary<string, string> { ["KIT_CONFIG"] = "/nonexistent/kit/appsettings.json" });
        Assert.That(elsewhere.ExitCode, Is.EqualTo(1), elsewhere.Output);
        Assert.That(elsewhere.Output, Does.Contain("/nonexistent/kit/appsettings.json"), "an explicit KIT_CONFIG wins over the installation's settings");

        var unit = Path.Combine(_work, "kit-license-server.service");
        File.WriteAllText(unit, File.ReadAllText(Path.Combine(_unpacked, "kit-license-server.service"))
            .Replace("@DEST@", Path.Combine(root, "opt/kit-license-server")).Replace("@CONFIG@", Path.Combine(root, "etc/kit-license-server"))
            .Replace("@DATA@", Path.Combine(root, "var/lib/kit-license-server")).Replace("@LOGS@", Path.Combine(root, "var/log/kit-license-server")));
        var verify = ProcessRunner.Run("systemd-analyze", ["verify", unit], TimeSpan.FromMinutes(1));
        Assert.That((verify.ExitCode, verify.Output), Is.EqualTo((0, "")), "systemd-analyze verify accepts the unit without a warning");

        var upgrade = Script("install.sh", "--root", root, "--no-systemd", "--yes");
        Assert.That(upgrade.ExitCode, Is.Zero, upgrade.Output);
        Assert.That(upgrade.Output, Does.Contain("Upgrading"));
        Assert.That(upgrade.Output, Does.Contain($"Kept the secrets key file {secretsKey}"));
        Assert.That(File.ReadAllText(secretsKey), Is.EqualTo(keyBefore), "an upgrade never replaces the secrets key");
        var after = await http.GetFromJsonAsync<JsonElement>("/api/v1/server");
        Assert.That(after.GetProperty("installationId").GetString(), Is.EqualTo(before.GetProperty("installationId").GetString()), "the upgrade keeps the data");

        var uninstall = Uninstall(root);
        Assert.That(uninstall.ExitCode, Is.Zero, uninstall.Output);
        Assert.That(Directory.Exists(Path.Combine(root, "opt/kit-license-server")), Is.False, "the binaries are gone");
        Assert.That(File.Exists(command), Is.False, "and the kit-server command");
        Assert.That(File.Exists(Path.Combine(root, "var/lib/kit-license-server/pgsql/PG_VERSION")), "the data is kept");
        Assert.That(File.Exists(config), "the configuration is kept");
        Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/health"), "the server has stopped");
        Assert.That(new PostgresCluster(Path.Combine(root, "var/lib/kit-license-server"), 1, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).IsRunning(),
            Is.False, "and its embedded PostgreSQL with it");
    }

    [Test]
    public void Bad_answers_stop_the_installer_before_anything_is_changed()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var busyPort = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var cases = new (string[] Args, string Message)[]
        {
            (["--port", busyPort.ToString(), "--db-url", ""], $"port {busyPort} is in use"),
            (["--port", FreePort.Next().ToString(), "--db-url", "jdbc:postgresql://127.0.0.1:1/kit?user=kit&password=x"], "the database does not answer"),
            (["--port", "70000", "--db-url", ""], "not between 1 and 65535"),
        };
        foreach (var (args, message) in cases)
        {
            var root = Path.Combine(_work, "bad-" + Guid.NewGuid().ToString("N")[..6]);
            var result = Script("install.sh", ["--root", root, "--no-systemd", "--yes", .. args]);
            Assert.That(result.ExitCode, Is.EqualTo(1), result.Output);
            Assert.That(result.Output, Does.Contain(message));
            Assert.That(Directory.Exists(root), Is.False, $"{message}: nothing may be created");
        }
        var readOnly = Script("install.sh", "--root", "/proc/kit-install-test", "--no-systemd", "--yes", "--port", FreePort.Next().ToString(), "--db-url", "");
        Assert.That(readOnly.ExitCode, Is.EqualTo(1), readOnly.Output);
        Assert.That(readOnly.Output, Does.Contain("cannot write to /proc/kit-install-test"));
    }

    [Test]
    public async Task An_installation_moved_to_HTTPS_upgrades_in_place_and_is_awaited_over_HTTPS()
    {
        var root = Install(FreePort.Next(), "http://licenses.test:8080");
        using var certificate = TestCertificate.Create();
        var (crt, key) = InstallCertificate(root, certificate);
        var httpsPort = FreePort.Next();
        EditSettings(root, settings =>
        {
            settings["Urls"] = $"https://0.0.0.0:{httpsPort}";
            settings["Kit"]!["ServerUrl"] = $"https://localhost:{httpsPort}";
            settings["Kit"]!["Https"] = new JsonObject { ["CertificatePath"] = crt, ["KeyPath"] = key };
        });

        var upgrade = Script("install.sh", "--root", root, "--no-systemd", "--yes");
        Assert.That(upgrade.ExitCode, Is.Zero, upgrade.Output);
        Assert.That(upgrade.Output, Does.Contain($"https://localhost:{httpsPort}/health/ready").And.Contain($"Open https://localhost:{httpsPort}/Activate"),
            "it waits over HTTPS, the only address there is");
        Assert.That(upgrade.Output, Does.Not.Contain("could not be checked"), "it trusted the configured certificate, and the server presented it");
        using var https = certificate.Client($"https://127.0.0.1:{httpsPort}");
        Assert.That((await https.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Uninstall(root).ExitCode, Is.Zero);
    }

    [Test]
    public async Task An_installation_on_two_addresses_upgrades_in_place()
    {
        var root = Install(FreePort.Next(), "http://licenses.test:8080");
        using var certificate = TestCertificate.Create();
        var (crt, key) = InstallCertificate(root, certificate);
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        EditSettings(root, settings =>
        {
            settings["Urls"] = $"http://*:{httpPort};https://0.0.0.0:{httpsPort}";
            settings["Kit"]!["ServerUrl"] = $"http://licenses.test:{httpPort}";
            settings["Kit"]!["Https"] = new JsonObject { ["CertificatePath"] = crt, ["KeyPath"] = key };
        });

        var upgrade = Script("install.sh", "--root", root, "--no-systemd", "--yes");
        Assert.That(upgrade.ExitCode, Is.Zero, upgrade.Output);
        Assert.That(upgrade.Output, Does.Contain($"Open http://licenses.test:{httpPort}/Activate"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        Assert.That((await http.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var https = certificate.Client($"https://127.0.0.1:{httpsPort}");
        Assert.That((await https.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Uninstall(root).ExitCode, Is.Zero);
    }

    [Test]
    public void An_upgrade_stops_when_another_program_holds_a_configured_port()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var busy = ((IPEndPoint)taken.LocalEndpoint).Port;
        var free = FreePort.Next();
        var urls = new List<(string Urls, int Busy)>
        {
            ($"http://+:{busy}", busy),
            ($"https://*:{busy}", busy),
            ($"http://licenses.test:{free};https://0.0.0.0:{busy}/", busy),
            ($"http://127.0.0.1:{busy};", busy),
        };
        using var takenV6 = new System.Net.Sockets.TcpListener(IPAddress.IPv6Loopback, 0);
        if (System.Net.Sockets.Socket.OSSupportsIPv6)
        {
            takenV6.Start();
            var busyV6 = ((IPEndPoint)takenV6.LocalEndpoint).Port;
            urls.Add(($"http://127.0.0.1:{free};http://[::]:{busyV6}", busyV6));
        }
        foreach (var (configured, port) in urls)
        {
            // The settings of an installation whose binaries are gone: install.sh upgrades, with the ports they name.
            var root = Path.Combine(_work, "busy-" + Guid.NewGuid().ToString("N")[..6]);
            Directory.CreateDirectory(Path.Combine(root, "etc/kit-license-server"));
            File.WriteAllText(Settings(root), $$"""
                {
                  /* Two ways of writing comments, and a key in another case: the server reads them all. */
                  "urls": "{{configured}}", // where it listens
                  "Kit": { "ServerUrl": "http://licenses.test:{{free}}", "DataDirectory": "{{root}}/var/lib/kit-license-server", },
                }
                """);
            var result = Script("install.sh", "--root", root, "--no-systemd", "--yes");
            Assert.That(result.ExitCode, Is.EqualTo(1), $"{configured}: {result.Output}");
            Assert.That(result.Output, Does.Contain($"port {port} is in use"), configured);
            Assert.That(Directory.Exists(Path.Combine(root, "opt")), Is.False, $"{configured}: nothing is installed");
        }
    }

    [Test]
    public void The_deb_installs_without_a_question_with_settings_for_this_host_and_says_how_to_begin()
    {
        // dpkg --root installs into a directory as into another system; --force-script-chrootless runs the maintainer
        // scripts here with DPKG_ROOT set, which they put before every path. The kit user is this machine's.
        var target = Path.Combine(_work, "deb-root");
        foreach (var directory in new[] { "info", "updates", "triggers" }) Directory.CreateDirectory(Path.Combine(target, "var/lib/dpkg", directory));
        File.WriteAllText(Path.Combine(target, "var/lib/dpkg/status"), "");
        string[] dpkg = ["--root", target, "--force-script-chrootless", "--force-depends", "--log=/dev/null"];
        var host = Run("sh", "-c", "hostname -f 2>/dev/null || uname -n").Output.Trim();

        var install = Run("dpkg", [.. dpkg, "--install", _deb]);
        Assert.That(install.ExitCode, Is.Zero, install.Output);
        Assert.That(install.Output, Does.Contain($"Open http://{host}:8080/Activate").And.Contain("/var/lib/kit-license-server/setup-code")
            .And.Contain("Kit:ServerUrl").And.Contain("/etc/kit-license-server/appsettings.json"), "the first steps, and how to change the address in mail links");
        var config = Path.Combine(target, "etc/kit-license-server/appsettings.json");
        var settings = JsonNode.Parse(File.ReadAllText(config))!;
        Assert.That(settings["Kit"]!["ServerUrl"]!.GetValue<string>(), Is.EqualTo($"http://{host}:8080"), "links in mail name this host, not localhost");
        Assert.That(File.GetUnixFileMode(config), Is.EqualTo((UnixFileMode)0b110_100_000));
        Assert.That(Run("stat", "-c", "%U:%G", config).Output.Trim(), Is.EqualTo("root:kit"));
        var secretsKey = Path.Combine(target, "var/lib/kit-license-server/secrets.key");
        Assert.That((Owner(secretsKey), File.GetUnixFileMode(secretsKey)), Is.EqualTo(("kit", UnixFileMode.UserRead | UnixFileMode.UserWrite)));
        Assert.That(File.Exists(Path.Combine(target, "etc/systemd/system/multi-user.target.wants/kit-license-server.service")), "the service is enabled");
        var command = File.ReadAllText(Path.Combine(target, "usr/bin/kit-server"));
        Assert.That(command, Does.Contain("/opt/kit-license-server/bin/kit-server").And.Contain("/etc/kit-license-server/appsettings.json"));
        Assert.That(command, Does.Not.Match("@[A-Z]+@"), "every placeholder is filled in");

        // An upgrade (here the same version again) keeps what IT changed and the secrets key.
        File.WriteAllText(config, File.ReadAllText(config).Replace($"http://{host}:8080", "https://licenses.example"));
        var key = File.ReadAllText(secretsKey);
        var again = Run("dpkg", [.. dpkg, "--install", _deb]);
        Assert.That(again.ExitCode, Is.Zero, again.Output);
        Assert.That(File.ReadAllText(config), Does.Contain("https://licenses.example"));
        Assert.That(File.ReadAllText(secretsKey), Is.EqualTo(key));

        var purge = Run("dpkg", [.. dpkg, "--purge", "kit-license-server"]);
        Assert.That(purge.ExitCode, Is.Zero, purge.Output);
        foreach (var gone in new[] { "etc/kit-license-server", "var/lib/kit-license-server", "var/log/kit-license-server", "opt/kit-license-server" })
            Assert.That(Directory.Exists(Path.Combine(target, gone)), Is.False, $"purge removes {gone}");
    }

    [Test]
    public void The_deb_passes_lintian()
    {
        Assert.That(Run("sh", "-c", "command -v lintian").ExitCode, Is.Zero, "lintian is not installed: run tests/prerequisites.sh");
        // Errors and warnings fail; the few kept are in the package's override file, each with its reason (build.sh).
        var lintian = ProcessRunner.Run("lintian", ["--fail-on", "error,warning", _deb], TimeSpan.FromMinutes(5));
        var findings = lintian.Output.Split('\n').Where(line => line.StartsWith("E: ", StringComparison.Ordinal) || line.StartsWith("W: ", StringComparison.Ordinal));
        Assert.That(findings, Is.Empty, lintian.Output);
        Assert.That(lintian.ExitCode, Is.Zero, lintian.Output);
    }
}
