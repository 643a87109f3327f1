using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using Microsoft.Playwright;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>Debian's Chromium driven by Playwright; no browser is ever downloaded. Each test has a browser context of its own.</summary>
public abstract class BrowserTest
{
    protected IBrowserContext Context { get; private set; } = null!;
    protected IPage Page { get; private set; } = null!;

    [SetUp]
    public async Task OpenContextAsync()
    {
        var browser = await SharedBrowser.GetAsync();
        Context = await browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true });
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

    /// <summary>An organization the server admin makes in the console, with the shares given (product, seats); its id.</summary>
    protected static async Task<long> CreateOrganizationAsync(TestServer server, string name, params (string Product, int Seats)[] shares)
    {
        using var http = new ConsoleClient(server.BaseUrl);
        await http.SignInAsync(AdminEmail, AdminPassword);
        using var created = await http.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = name });
        var org = long.Parse(created.RedirectPath().Split('/')[^1]);
        foreach (var (product, seats) in shares)
            using (var shared = await http.PostFormAsync("/Admin/Licenses",
                       new Dictionary<string, string> { ["organizationId"] = $"{org}", ["product"] = product, ["quota"] = $"{seats}" }))
                Assert.That(shared.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Redirect), await ConsoleClient.TextOf(shared));
        return org;
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
        await Context.CloseAsync();
    }
}
