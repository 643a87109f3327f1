using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests;

/// <summary>Starts the test PostgreSQL once before every test of this assembly; stops it and the shared Chromium after.</summary>
[SetUpFixture]
public sealed class AssemblySetup
{
    [OneTimeSetUp]
    public Task StartAsync() => PostgresFixture.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await SharedBrowser.StopIfStartedAsync();
        await PostgresFixture.StopAsync();
    }
}
