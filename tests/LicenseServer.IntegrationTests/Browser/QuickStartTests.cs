using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using LicenseServer.Data.Operations;
using LicenseServer.IntegrationTests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace LicenseServer.IntegrationTests.Browser;

/// <summary>The README's first command, end to end: installer/demo.sh brings up an activated demo server.</summary>
// Alone (see Parallelism.cs): installer/demo.sh runs dotnet build into the bin/ folders that other tests start
// kit-server.dll from.
[NonParallelizable]
public partial class QuickStartTests : BrowserTest
{
    [Test]
    public async Task The_quick_start_brings_up_an_activated_demo_server_whose_admin_sees_the_products()
    {
        var demoDir = Path.Combine(Path.GetTempPath(), "kit-demo-" + Guid.NewGuid().ToString("N")[..8]);
        int port = FreePort.Next(), dbPort = FreePort.Next();
        var info = new ProcessStartInfo("bash", [RepoPaths.File("installer/demo.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["KIT_DEMO_DIR"] = demoDir, ["KIT_DEMO_PORT"] = port.ToString(), ["KIT_DEMO_DB_PORT"] = dbPort.ToString() },
        };
        using var demo = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        var password = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        demo.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (PasswordLine().Match(e.Data) is { Success: true } m) password.TrySetResult(m.Groups[1].Value);
        };
        demo.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        try
        {
            var finished = await Task.WhenAny(password.Task, demo.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(4)));
            Assert.That(finished, Is.SameAs(password.Task), () => $"the demo printed no credentials:\n{output}");
            var baseUrl = $"http://localhost:{port}";
            await WaitForHealthAsync(baseUrl, () => output.ToString());

            await Page.GotoAsync(baseUrl + "/");
            await Page.FillAsync("#email", "admin@example.com");
            await Page.FillAsync("#password", await password.Task);
            await Page.ClickAsync("button:has-text('Sign in')");
            Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/"));
            var products = await Page.GetByTestId("products").InnerTextAsync();
            Assert.That(products, Does.Contain("KSE").And.Contain("Studio Enterprise").And.Contain("KRE").And.Contain("Runtime Engine"));
            Assert.That(await Page.Locator(".demo-banner").InnerTextAsync(), Does.Contain("DEMO MODE"));

            // The demo organization holds every seat, its admin holds each product, and the printed key checks out KRE.
            Assert.That(output.ToString(), Does.Contain("Created the organization \"Demo Organization\"").And.Contain("KSE: 10 seats").And.Contain("KRE: 5 seats"));
            var key = ApiKeyLine().Match(output.ToString()).Groups[1].Value;
            await Page.GetByRole(AriaRole.Link, new() { Name = "Demo Organization" }).First.ClickAsync();
            await Page.GetByRole(AriaRole.Link, new() { Name = "License Management" }).ClickAsync();
            await Page.GetByRole(AriaRole.Link, new() { Name = "KSE (per-user)" }).ClickAsync();
            Assert.That(await Page.GetByTestId("in-use").First.InnerTextAsync(), Is.EqualTo("1"), "the admin's own KSE license is in use at once");
            using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
            using var checkout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { product = "KRE", machineId = "demo-runner", processId = "1" }),
            };
            checkout.Headers.Add("X-Api-Key", key);
            using var granted = await http.SendAsync(checkout);
            Assert.That(granted.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Created), await granted.Content.ReadAsStringAsync());
        }
        finally
        {
            ProcessRunner.Run("kill", ["-TERM", demo.Id.ToString()], TimeSpan.FromSeconds(5));
            if (!demo.WaitForExit(TimeSpan.FromSeconds(60))) demo.Kill(entireProcessTree: true);
        }
        Assert.That(File.Exists(Path.Combine(demoDir, "data", "pgsql", "PG_VERSION")), "the demo ran on the embedded PostgreSQL");
        Assert.That(new PostgresCluster(Path.Combine(demoDir, "data"), dbPort, NullLogger.Instance).IsRunning(), Is.False,
            "stopping the server stops its embedded PostgreSQL");
        try { Directory.Delete(demoDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static async Task WaitForHealthAsync(string baseUrl, Func<string> log)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await http.GetAsync(baseUrl + "/health");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(250);
        }
        Assert.Fail($"the demo server never answered /health:\n{log()}");
    }

    [GeneratedRegex(@"^\s*Password\s+(\S+)\s*$")]
    private static partial Regex PasswordLine();

    [GeneratedRegex(@"^\s*API key\s+(kit_\S+)", RegexOptions.Multiline)]
    private static partial Regex ApiKeyLine();
}
