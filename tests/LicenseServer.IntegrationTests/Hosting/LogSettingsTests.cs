using System.Text.Json;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Hosting;

/// <summary>
/// IT adds log targets (syslog, JSON lines for a log shipper) with an nlog.config beside the settings file; the
/// server honours it, and refuses to start on one it cannot read rather than logging nowhere.
/// </summary>
public class LogSettingsTests
{
    private string _config = null!;

    [SetUp]
    public void MakeConfigFolder()
    {
        _config = Directory.CreateTempSubdirectory("kit-logconfig-").FullName;
        File.WriteAllText(Path.Combine(_config, "appsettings.json"), """{ "Kit": { "Logs": { "ConsoleLevel": "Warn" } } }""");
    }

    [TearDown]
    public void RemoveConfigFolder() => Directory.Delete(_config, recursive: true);

    private string SettingsFile => Path.Combine(_config, "appsettings.json");

    [Test]
    public async Task An_nlog_config_beside_the_settings_file_adds_a_JSON_log()
    {
        File.WriteAllText(Path.Combine(_config, "nlog.config"), """
            <nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" throwConfigExceptions="true">
              <targets>
                <target xsi:type="File" name="json" fileName="${var:logDirectory}/events.json">
                  <layout xsi:type="JsonLayout">
                    <attribute name="level" layout="${level}" />
                    <attribute name="logger" layout="${logger}" />
                    <attribute name="message" layout="${message}" />
                  </layout>
                </target>
              </targets>
              <rules><logger name="*" minlevel="Info" writeTo="json" /></rules>
            </nlog>
            """);
        await using var node = await ServerProcess.StartAsync(PostgresFixture.CreateMigratedDatabase(), "--config", SettingsFile, $"--Kit:Logs:Directory={_config}");

        var events = Path.Combine(_config, "events.json");
        Assert.That(File.Exists(events), Is.True, node.Output);
        var lines = File.ReadAllLines(events).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(lines.Select(l => l.GetProperty("message").GetString()), Has.Some.Contains("is listening on"));
        Assert.That(File.Exists(Path.Combine(_config, "kit-server.log")), Is.False, "the file replaces the built-in targets");
    }

    [Test]
    public void A_log_settings_file_that_cannot_be_read_stops_the_server_with_a_sentence()
    {
        var file = Path.Combine(_config, "nlog.config");
        File.WriteAllText(file, "<nlog><targets><target name=\"x\" type=\"NoSuchTarget\" /></targets></nlog>");
        var run = ServerProcess.Command("migrate", [.. TestServer.Arguments(PostgresFixture.CreateMigratedDatabase(), _config), "--config", SettingsFile]);
        Assert.That(run.ExitCode, Is.Not.Zero, run.Output);
        Assert.That(run.Output, Does.Contain($"The log settings {file} cannot be used"));
    }
}
