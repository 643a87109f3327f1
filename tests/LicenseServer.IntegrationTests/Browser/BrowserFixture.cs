using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>Debian's Chromium driven by Playwright; no browser is ever downloaded.</summary>
public abstract class BrowserTest
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    protected IBrowserContext Context { get; private set; } = null!;
    protected IPage Page { get; private set; } = null!;

    [SetUp]
    public async Task LaunchAsync()
    {
        var path = Environment.GetEnvironmentVariable("KIT_CHROMIUM") ?? ChromiumPath;
        Assert.That(File.Exists(path), $"Chromium is not installed at {path}: apt-get install chromium (.ci/run does).");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = path,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
        Context = await _browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true });
        Page = await Context.NewPageAsync();
    }

    public const string AdminEmail = "admin@acme.test";
    public const string AdminPassword = "correct horse";

    /// <summary>An activated server with its default account, signed in in <see cref="Page"/>.</summary>
    protected async Task<TestServer> SignedInServerAsync(TimeProvider? clock = null)
    {
        var server = await TestServer.StartAsync(clock);
        await server.Service<ActivationService>().ActivateAsync(await server.LicenseAsync());
        await ConsoleTest.CreateDefaultAccountAsync(server, AdminEmail, AdminPassword);
        await SignInAsync(server);
        return server;
    }

    protected async Task SignInAsync(TestServer server)
    {
        await Page.GotoAsync(server.BaseUrl + "/Account/SignIn");
        await Page.FillAsync("#email", AdminEmail);
        await Page.FillAsync("#password", AdminPassword);
        await Page.ClickAsync("button:has-text('Sign in')");
    }

    [TearDown]
    public async Task CloseAsync()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed && Page is not null)
        {
            var shot = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"{TestContext.CurrentContext.Test.Name}.png");
            await Page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
            TestContext.AddTestAttachment(shot);
        }
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
