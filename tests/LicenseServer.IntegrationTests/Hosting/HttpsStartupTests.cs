using System.Diagnostics;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Hosting;

/// <summary>A certificate the server cannot use stops the built server at start: exit code 1 and one sentence naming the setting, no stack trace.</summary>
public class HttpsStartupTests
{
    private static TestCertificate _certificate = null!;

    [OneTimeSetUp]
    public void MakeCertificate() => _certificate = TestCertificate.Create();

    [OneTimeTearDown]
    public void RemoveCertificate() => _certificate.Dispose();

    private static async Task<(int ExitCode, string Output)> RunServerAsync(params string[] settings)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "kit-https-" + Guid.NewGuid().ToString("N")[..8]);
        var args = TestServer.Arguments(PostgresFixture.CreateDatabase(), dataDirectory, [$"--Urls=https://127.0.0.1:{FreePort.Next()}", .. settings]);
        var info = new ProcessStartInfo("dotnet", [ServerProcess.ServerDll, "run", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the server did not stop at start: " + await output + await error);
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
        return (process.ExitCode, await output + await error);
    }

    private static IEnumerable<TestCaseData> BadSettings()
    {
        yield return new TestCaseData(() => new[] { "--Kit:Https:CertificatePath=/nonexistent/server.pfx" },
            "The HTTPS certificate file /nonexistent/server.pfx (Kit:Https:CertificatePath) does not exist").SetName("A_missing_certificate_file");
        yield return new TestCaseData(() => new[] { $"--Kit:Https:CertificatePath={_certificate.WritePfx("right one")}", "--Kit:Https:CertificatePassword=wrong one" },
            "the password (Kit:Https:CertificatePassword) is wrong").SetName("A_wrong_PFX_password");
        yield return new TestCaseData(() => new[] { $"--Kit:Https:CertificatePath={_certificate.WritePem().Certificate}" },
            "the PEM certificate or its key (Kit:Https:KeyPath").SetName("A_PEM_certificate_without_its_key");
        yield return new TestCaseData(() => new[] { $"--Kit:Https:CertificatePath={_certificate.WritePem().Certificate}", "--Kit:Https:KeyPath=/nonexistent/server.key" },
            "The HTTPS key file /nonexistent/server.key (Kit:Https:KeyPath) does not exist").SetName("A_missing_PEM_key_file");
        yield return new TestCaseData(() => Array.Empty<string>(),
            "Urls has an https:// address").SetName("An_https_address_without_a_certificate");
    }

    [TestCaseSource(nameof(BadSettings))]
    public async Task Stops_the_server_at_start_with_a_clear_message(Func<string[]> settings, string message)
    {
        var (exitCode, output) = await RunServerAsync(settings());
        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain(message));
        Assert.That(output, Does.Not.Contain("   at ").And.Not.Contain("Unhandled exception"), "a sentence, not a stack trace");
    }
}
