using System.Net.Http.Json;
using System.Text.Json;
using LicenseServer.Data.Database;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Packaging;

/// <summary>
/// I1, I3: builds the .deb and the linux archive with packaging/build.sh, installs the archive with
/// install.sh into a temporary root (--no-systemd: no systemd runs here), upgrades it, uninstalls it.
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

    [OneTimeTearDown]
    public void Clean()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    private ProcessResult Script(string script, params string[] args) =>
        ProcessRunner.Run("bash", [Path.Combine(_unpacked, script), .. args], TimeSpan.FromMinutes(5));

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
        foreach (var path in new[] { "./opt/kit-license-server/bin/kit-server", "./lib/systemd/system/kit-license-server.service", "./etc/kit-license-server/appsettings.json" })
            Assert.That(contents, Does.Contain(path));

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
        var port = FreePort.Next();
        var install = Script("install.sh", "--root", root, "--no-systemd", "--port", port.ToString(), "--yes", "--db-url", "", "--server-url", $"http://licenses.test:{port}");
        Assert.That(install.ExitCode, Is.Zero, install.Output);
        Assert.That(install.Output, Does.Contain($"Open http://licenses.test:{port}/Activate").And.Contain($"{root}/var/lib/kit-license-server/setup-code"),
            "the installer says where the setup code will be");

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

        var uninstall = Script("uninstall.sh", "--root", root);
        Assert.That(uninstall.ExitCode, Is.Zero, uninstall.Output);
        Assert.That(Directory.Exists(Path.Combine(root, "opt/kit-license-server")), Is.False, "the binaries are gone");
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
}
