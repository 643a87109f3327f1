using LicenseServer.IntegrationTests.Support;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// The documents' screenshots, taken by the browser tests from the real console so that they match the product.
/// Each run writes them beside the test results; with KIT_UPDATE_SCREENSHOTS=1 they replace the committed ones
/// under docs/images/.
/// </summary>
public static class DocumentScreenshots
{
    public static async Task SaveAsync(IPage page, string name)
    {
        await page.SetViewportSizeAsync(1200, 760);
        var folder = Environment.GetEnvironmentVariable("KIT_UPDATE_SCREENSHOTS") == "1"
            ? RepoPaths.File("docs/images")
            : Path.Combine(TestContext.CurrentContext.WorkDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = false });
        Assert.That(bytes.AsSpan(1, 3).ToArray(), Is.EqualTo("PNG"u8.ToArray()), "a PNG screenshot");
        TestContext.AddTestAttachment(path);
    }
}
