using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests;

/// <summary>Starts the test PostgreSQL once before every test of this assembly and stops it after.</summary>
[SetUpFixture]
public sealed class AssemblySetup
{
    [OneTimeSetUp]
    public Task StartAsync() => PostgresFixture.StartAsync();

    [OneTimeTearDown]
    public Task StopAsync()
    {
        MailDev.StopIfStarted();
        return PostgresFixture.StopAsync();
    }
}
