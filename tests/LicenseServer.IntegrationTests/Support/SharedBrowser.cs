using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// One Playwright driver and one Debian Chromium for the whole run, launched by the first browser test:
/// starting both cost each test a second or two. Every test still gets a browser context of its own
/// (cookies, storage, downloads), which is what isolates one browser session from another.
/// </summary>
public static class SharedBrowser
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static IPlaywright? _playwright;
    private static IBrowser? _browser;

    public static async Task<IBrowser> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_browser is { IsConnected: true }) return _browser;
            // A Chromium that crashed or was killed is replaced, so that one bad test does not fail the rest.
            if (_browser is not null) await _browser.DisposeAsync();
            var path = Environment.GetEnvironmentVariable("KIT_CHROMIUM") ?? ChromiumPath;
            Assert.That(File.Exists(path), $"Chromium is not installed at {path}: apt-get install chromium (.ci/run does).");
            _playwright ??= await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = path,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
            });
            return _browser;
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task StopIfStartedAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        _browser = null;
        _playwright = null;
    }
}
