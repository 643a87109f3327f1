using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LicenseServer.Client;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Licenses;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Hostile bodies on every JSON route of the client API: a NUL in each string field, bytes that are not
/// UTF-8, a lone surrogate, truncated or malformed JSON, the wrong type, a body over 16 KB (with and without
/// a length). Each is a 4xx problem with its code, never a 500 or a 503, and nothing is stored.
/// </summary>
public sealed class HostileRequestTests : SecurityTest
{
    private sealed record Route(HttpMethod Method, string Path, Dictionary<string, string> Body, string Auth);

    private async Task<(List<Route> Routes, string Bearer, string Key)> RoutesAsync()
    {
        var org = await CreateOrganizationAsync(Admin, "API Corp");
        await AllocateAsync(org, "KSE", 5);
        await AllocateAsync(org, "KRE", 5);
        var userId = await AddMemberAsync(org, VictimMember);
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        var bearer = (await kit.LoginAsync(VictimMember, Password)).Token;
        var key = await Members.EngineKeyAsync(Server, (await Server.Service<OrganizationRepository>().MembershipAsync(org, userId))!, "ci");
        return ([
            new(HttpMethod.Post, "/api/v1/auth/login", new() { ["email"] = VictimMember, ["password"] = Password }, "none"),
            new(HttpMethod.Post, $"/api/v1/organizations/{org}/activations", new() { ["product"] = "KSE", ["machineId"] = "PC-1" }, "bearer"),
            new(HttpMethod.Delete, $"/api/v1/organizations/{org}/activations", new() { ["product"] = "KSE", ["machineId"] = "PC-1" }, "bearer"),
            new(HttpMethod.Post, "/api/v1/sessions", new() { ["product"] = "KRE", ["machineId"] = "PC-1", ["processId"] = "42" }, "key"),
        ], bearer, key);
    }

    [Test]
    public async Task Hostile_bodies_on_every_JSON_route_get_a_problem_with_its_code_and_store_nothing()
    {
        var (routes, bearer, key) = await RoutesAsync();
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        var before = await SnapshotAsync();
        foreach (var route in routes)
        {
            var cases = new List<(string Name, HttpContent Body, int Status, string Code)>();
            foreach (var field in route.Body.Keys)
            {
                cases.Add(($"NUL in {field}", Json(route.Body.ToDictionary(f => f.Key, f => (object)(f.Key == field ? f.Value + "\0" : f.Value))), 400, "invalid_request"));
                // A process id may be a number (kept as its digits); no other text field takes one.
                if (field != "processId")
                    cases.Add(($"a number for {field}", Json(route.Body.ToDictionary(f => f.Key, f => f.Key == field ? (object)7 : f.Value)), 400, "invalid_request"));
                cases.Add(($"a boolean for {field}", Json(route.Body.ToDictionary(f => f.Key, f => f.Key == field ? (object)true : f.Value)), 400, "invalid_request"));
                cases.Add(($"a lone surrogate in {field}", Raw(JsonSerializer.Serialize(route.Body).Replace($"\"{route.Body[field]}\"", "\"\\ud800\"")), 400, "invalid_request"));
            }
            var valid = JsonSerializer.Serialize(route.Body);
            cases.Add(("truncated", Raw(valid[..^3]), 400, "invalid_request"));
            cases.Add(("an array", Raw("[" + valid + "]"), 400, "invalid_request"));
            cases.Add(("empty", Raw(""), 400, "invalid_request"));
            cases.Add(("not UTF-8", Bytes([.. Encoding.UTF8.GetBytes(valid[..^2]), 0xC3, 0x28, (byte)'"', (byte)'}']), 400, "invalid_request"));
            cases.Add(("over 16 KB", Raw(valid[..^1] + $",\"pad\":\"{new string('x', 17 * 1024)}\"}}"), 413, "body_too_large"));
            cases.Add(("over 16 KB, chunked", Chunked(valid[..^1] + $",\"pad\":\"{new string('x', 17 * 1024)}\"}}"), 413, "body_too_large"));
            cases.Add(("form instead of JSON", new FormUrlEncodedContent(route.Body), 415, "unsupported_media_type"));
            foreach (var (name, body, status, code) in cases)
            {
                using var request = new HttpRequestMessage(route.Method, route.Path) { Content = body };
                if (route.Auth == "bearer") request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                if (route.Auth == "key") request.Headers.Add("X-Api-Key", key);
                using var response = await SendAsync(http, request, $"{route.Method} {route.Path}, {name}", mayBeCutOff: name.EndsWith("chunked", StringComparison.Ordinal));
                if (response is null) continue;
                var problem = await response.Content.ReadAsStringAsync();
                Assert.That(await IdorTests.CodeAsync(response), Is.EqualTo((status, code)), $"{route.Method} {route.Path}, {name}: {problem}");
                if (name.StartsWith("NUL", StringComparison.Ordinal))
                    Assert.That(problem, Does.Contain("NUL character").And.Contain(name[7..]), "the problem names the field");
            }
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "nothing is stored, not even a sign-in failure");
        foreach (var (query, status) in new[] { ("search=%00", 400), ("search=a%00b", 400), ("search=%FF", 200) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/plugins?" + query);
            request.Headers.Add("X-Api-Key", key);
            using var response = await http.SendAsync(request);
            // A percent sequence that is not UTF-8 stays as typed (ASP.NET Core's decoder leaves it), and matches literally.
            Assert.That(await IdorTests.CodeAsync(response), Is.EqualTo(status == 400 ? (400, "invalid_request") : (200, (string?)null)), query);
        }
        using (var still = await http.GetAsync("/api/v1/server"))
            Assert.That((int)still.StatusCode, Is.EqualTo(200), "and the server still answers");
    }

    /// <summary>
    /// Null when the server closed the connection before the answer arrived: Kestrel closes it after refusing a
    /// body without a length that grew past the limit, and the client, still sending, may see the reset first.
    /// </summary>
    private static async Task<HttpResponseMessage?> SendAsync(HttpClient http, HttpRequestMessage request, string what, bool mayBeCutOff)
    {
        try
        {
            return await http.SendAsync(request);
        }
        catch (HttpRequestException e) when (mayBeCutOff)
        {
            TestContext.Out.WriteLine($"{what}: the connection was closed before the answer was read ({e.Message})");
            return null;
        }
        catch (HttpRequestException e)
        {
            throw new AssertionException($"{what}: no answer ({e.Message})", e);
        }
    }

    private static StringContent Json(Dictionary<string, object> body) => Raw(JsonSerializer.Serialize(body));

    private static StringContent Raw(string text) => new(text, Encoding.UTF8, "application/json");

    private static ByteArrayContent Bytes(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static StreamContent Chunked(string text)
    {
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentLength = null;
        return content;
    }
}
