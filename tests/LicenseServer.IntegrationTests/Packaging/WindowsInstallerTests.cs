using System.Text.Json;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Packaging;

/// <summary>
/// The Windows installer cannot run here (no Windows, no Service Control Manager, no firewall): what can is
/// checked. Its scripts parse; its decisions (the address to wait on, the ports to open, who may reach the data
/// tree, the service's command line) run under PowerShell for Linux; its readiness probe asks a real HTTPS
/// server, trusting the configured certificate only; and the server carries the platform's Windows service host.
/// </summary>
public class WindowsInstallerTests
{
    private static string Scripts => RepoPaths.File("installer/windows");

    /// <summary>Runs PowerShell with the installer's module loaded; answers what the script wrote, one line each.</summary>
    private static List<string> Pwsh(string script)
    {
        var pwsh = RepoPaths.File("tests/.tools/pwsh/pwsh");
        Assert.That(File.Exists(pwsh), Is.True, "tests/prerequisites.sh installs PowerShell into tests/.tools/pwsh");
        var run = ProcessRunner.Run(pwsh, ["-NoProfile", "-NonInteractive", "-Command",
            $"$ErrorActionPreference = 'Stop'; Import-Module '{Path.Combine(Scripts, "KitInstall.psm1")}'; {script}"], TimeSpan.FromMinutes(1));
        Assert.That(run.ExitCode, Is.Zero, run.Output);
        return run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    [Test]
    public void Every_installer_script_parses_without_errors()
    {
        var files = Directory.GetFiles(Scripts).Where(f => f.EndsWith(".ps1", StringComparison.Ordinal) || f.EndsWith(".psm1", StringComparison.Ordinal)).ToList();
        Assert.That(files.Select(Path.GetFileName), Is.SupersetOf(new[] { "install.ps1", "uninstall.ps1", "KitInstall.psm1" }));
        var errors = Pwsh(string.Join("; ", files.Select(f =>
            $"$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('{f}', [ref]$null, [ref]$e); $e | ForEach-Object {{ '{Path.GetFileName(f)}: ' + $_.Message }}")));
        Assert.That(errors, Is.Empty);
    }

    // The old installer took the port with '.*:(\d+).*' and asked http://127.0.0.1:<port>: with two addresses it took the
    // HTTPS port and asked it over HTTP; with HTTPS alone, plain HTTP; with IPv6 or several it could not tell.
    [Test]
    public void The_installer_waits_for_readiness_on_an_address_it_can_reach()
    {
        var cases = new (string Urls, string Expected)[]
        {
            ("http://0.0.0.0:8080", "http://127.0.0.1:8080/health/ready"),
            ("https://0.0.0.0:8443", "https://127.0.0.1:8443/health/ready"),
            ("http://0.0.0.0:8080;https://0.0.0.0:8443", "http://127.0.0.1:8080/health/ready"),
            ("https://*:8443; http://+:8080", "http://127.0.0.1:8080/health/ready"),
            ("https://[::]:8443", "https://[::1]:8443/health/ready"),
            ("http://licenses.acme.test:9000/", "http://licenses.acme.test:9000/health/ready"),
            ("https://10.0.0.11", "https://10.0.0.11:443/health/ready"),
        };
        // One PowerShell for all: it takes seconds to start.
        var answers = Pwsh(string.Join("; ", cases.Select(c => $"Get-KitReadinessUrl '{c.Urls}'")));
        Assert.That(answers, Is.EqualTo(cases.Select(c => c.Expected)));
    }

    [Test]
    public void The_firewall_opens_every_configured_port_once_and_a_bad_address_is_named()
    {
        Assert.That(Pwsh("Get-KitPorts 'http://*:8080;https://+:8443;http://127.0.0.1:8080'"), Is.EqualTo(new[] { "8080", "8443" }));
        var bad = Pwsh("try { Get-KitPorts 'http://0.0.0.0:8080;ftp://x:21' } catch { $_.Exception.Message }");
        Assert.That(bad, Is.EqualTo(new[] { "the address \"ftp://x:21\" in Urls is not of the form http://host:port or https://host:port." }));
    }

    [Test]
    public void The_data_tree_is_for_SYSTEM_Administrators_and_the_services_virtual_account_alone()
    {
        Assert.That(Pwsh("Get-KitFolderGrants"), Is.EqualTo(new[] { "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F", @"NT SERVICE\KitLicenseServer:(OI)(CI)M" }));
        Assert.That(Pwsh("Get-KitSecretsKeyGrants"), Is.EqualTo(new[] { "*S-1-5-18:F", "*S-1-5-32-544:F", @"NT SERVICE\KitLicenseServer:R" }),
            "the service reads the secrets key and cannot replace it");
        Assert.That(Pwsh(@"Get-KitServiceCommand -Bin 'C:\Program Files\Kit License Server\bin' -Config 'C:\ProgramData\Kit License Server\config\appsettings.json'").Single(),
            Is.EqualTo(@"""C:\Program Files\Kit License Server\bin\kit-server.exe"" run --config ""C:\ProgramData\Kit License Server\config\appsettings.json"""),
            "the settings file named (a service starts in System32), and no --windows-service");
    }

    [Test]
    public void Install_runs_the_service_as_its_virtual_account_closes_the_data_tree_opens_the_firewall_and_uninstall_undoes_it()
    {
        // What each script calls, read from its syntax tree: the Windows-only steps are there, even if they cannot run here.
        static List<string> Calls(string script) => Pwsh(
            $"$ast = [System.Management.Automation.Language.Parser]::ParseFile('{Path.Combine(Scripts, script)}', [ref]$null, [ref]$null); " +
            "$ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $true) | ForEach-Object { $_.Extent.Text -replace '\\s+', ' ' }");
        var install = Calls("install.ps1");
        Assert.That(install, Has.Some.StartsWith("sc.exe config $ServiceName binPath= $command obj= $ServiceAccount"));
        Assert.That(install, Has.Some.StartsWith("icacls $dataDir /inheritance:r /grant:r @(Get-KitFolderGrants)"));
        Assert.That(install, Has.Some.StartsWith("New-NetFirewallRule -Name $FirewallRuleName"));
        Assert.That(install, Has.Some.Contains("check-database"));
        Assert.That(install, Has.Some.StartsWith("Test-KitReady -Url $readiness -Thumbprint $thumbprint"));
        var uninstall = Calls("uninstall.ps1");
        Assert.That(uninstall, Has.Some.StartsWith("Remove-NetFirewallRule -Name $FirewallRuleName"));
    }

    [Test]
    public async Task The_readiness_probe_trusts_the_configured_certificate_and_no_other()
    {
        using var certificate = TestCertificate.Create();
        var url = $"https://127.0.0.1:{FreePort.Next()}";
        await using var server = await TestServer.StartAsync(settings: [$"--Urls={url}", $"--Kit:ServerUrl={url}",
            $"--Kit:Https:CertificatePath={certificate.WritePfx("pfx secret")}", "--Kit:Https:CertificatePassword=pfx secret"]);
        var ready = $"{url}/health/ready";
        Assert.That(Pwsh($"Test-KitReady -Url '{ready}' -Thumbprint '{certificate.Certificate.Thumbprint}'"), Is.EqualTo(new[] { "True" }));
        Assert.That(Pwsh($"Test-KitReady -Url '{ready}' -Thumbprint ''"), Is.EqualTo(new[] { "False" }), "a self-signed certificate is not trusted without its thumbprint");
        Assert.That(Pwsh($"Test-KitReady -Url '{ready}' -Thumbprint '{new string('A', 40)}'"), Is.EqualTo(new[] { "False" }));
    }

    [Test]
    public void The_server_runs_as_a_Windows_service_through_the_platforms_host()
    {
        // The package comes with the server (and so with the win-x64 publish, which copies the same dependencies).
        var deps = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(ServerProcess.ServerDll, ".deps.json")));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name.Split('/')[0]).ToList();
        Assert.That(libraries, Does.Contain("Microsoft.Extensions.Hosting.WindowsServices"));
        Assert.That(File.Exists(Path.Combine(Path.GetDirectoryName(ServerProcess.ServerDll)!, "Microsoft.Extensions.Hosting.WindowsServices.dll")), Is.True);
        Assert.That(typeof(LicenseServer.Web.Hosting.ServerHost).Assembly.GetType("LicenseServer.Web.Hosting.WindowsService"), Is.Null,
            "the hand-written Service Control Manager code is gone");
    }
}
