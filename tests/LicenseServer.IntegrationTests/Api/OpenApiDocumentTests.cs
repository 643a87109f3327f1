using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Api;

/// <summary>
/// The client API's OpenAPI document: the one served is the one committed as docs/openapi.json, a real linter
/// (Redocly CLI, its recommended rules) finds nothing in it, and what it says of each operation's callers holds.
/// </summary>
public class OpenApiDocumentTests
{
    private static readonly string Committed = RepoPaths.File("docs/openapi.json");

    private static async Task<string> ServedAsync(TestServer server)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        return Normalized(await http.GetStringAsync("/api/v1/openapi.json"));
    }

    private static string Normalized(string json) =>
        JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    [Test]
    public async Task The_served_document_is_the_committed_one()
    {
        await using var server = await TestServer.StartAsync();
        var served = await ServedAsync(server);
        // A change to the API rewrites the committed document with: KIT_WRITE_OPENAPI=1 dotnet test --filter The_served_document_is_the_committed_one
        if (Environment.GetEnvironmentVariable("KIT_WRITE_OPENAPI") == "1") await File.WriteAllTextAsync(Committed, served);
        Assert.That(File.Exists(Committed), "docs/openapi.json is committed");
        Assert.That(served, Is.EqualTo(await File.ReadAllTextAsync(Committed)),
            "docs/openapi.json is not what the server serves: rewrite it with KIT_WRITE_OPENAPI=1 dotnet test --filter The_served_document_is_the_committed_one");
    }

    [Test]
    public async Task Redocly_finds_no_error_and_no_warning_with_its_recommended_rules()
    {
        var redocly = Path.Combine(RepoPaths.Root, "tests", ".tools", "node_modules", ".bin", "redocly");
        Assert.That(File.Exists(redocly), "tests/prerequisites.sh installs Redocly CLI into tests/.tools");
        var lint = new ProcessStartInfo(redocly) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoPaths.Root };
        foreach (var argument in new[] { "lint", Committed, "--extends=recommended", "--format=json" }) lint.ArgumentList.Add(argument);
        // No telemetry and no update check: the tests run behind a firewall too.
        lint.Environment["REDOCLY_TELEMETRY"] = "off";
        lint.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(lint)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var report = JsonNode.Parse(await output)!;
        var problems = report["problems"]!.AsArray().Select(p => $"{p!["severity"]} {p["ruleId"]}: {p["message"]} at {p["location"]?[0]?["pointer"]}").ToList();
        Assert.That(problems, Is.Empty, await errors);
        Assert.That((int)report["totals"]!["errors"]! + (int)report["totals"]!["warnings"]!, Is.Zero);
    }

    /// <summary>
    /// Every operation the document says needs a token or a key, called without one, answers 401 with one of the codes
    /// the document gives for its 401: the document and the server's authorization agree, route by route.
    /// </summary>
    [Test]
    public async Task Every_operation_that_needs_a_caller_refuses_an_anonymous_one_as_documented()
    {
        await using var server = await TestServer.StartAsync();
        var document = JsonNode.Parse(await ServedAsync(server))!;
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        var checkedOperations = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
            {
                var security = operation!["security"]!.AsArray();
                if (security.Count == 0) continue;
                var url = path.Replace("{orgId}", "1").Replace("{sessionId}", Guid.NewGuid().ToString()).Replace("{pluginId}", "p").Replace("{version}", "1.0");
                using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), url);
                if (operation["requestBody"] is not null)
                    request.Content = new StringContent(operation["requestBody"]!["content"]!["application/json"]!["example"]!.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
                using var response = await http.SendAsync(request);
                var where = $"{method.ToUpperInvariant()} {path}";
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), where);
                var code = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]!.GetValue<string>();
                var documented = operation["responses"]!["401"]!["content"]!["application/problem+json"]!["examples"]!.AsObject().Select(e => e.Key);
                Assert.That(documented, Does.Contain(code), where);
                checkedOperations++;
            }
        Assert.That(checkedOperations, Is.EqualTo(11), "every operation but sign-in and the server's description needs a caller");
    }
}
