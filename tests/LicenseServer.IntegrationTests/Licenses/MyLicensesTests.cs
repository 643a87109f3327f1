using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Dapper;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>My licenses and GET /api/v1/me/licenses show the caller's own licenses, machines and sessions, nobody else's.</summary>
public class MyLicensesTests : SeatRuleTest
{
    [Test]
    public async Task The_API_answers_my_licenses_machines_and_sessions_and_nothing_of_another_member()
    {
        await AddMemberAsync(Org, "ann@acme.test");
        await AddMemberAsync(Org, "bob@acme.test");
        using (var assigned = await AssignAsync(Admin, "ann@acme.test, bob@acme.test")) Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var ann = await KitAsync("ann@acme.test");
        await ann.ActivateAsync(Org, "KSE", "ANN-PC");
        var bob = await KitAsync("bob@acme.test");
        await bob.ActivateAsync(Org, "KSE", "BOB-PC");
        using var runner = await ApiKeyClientAsync("ann@acme.test");
        await runner.CheckoutAsync("KRE", "ANN-CI", "77", autoHeartbeat: false);

        var mine = await MeAsync(ann.Token!);
        Assert.That(mine.GetProperty("licenses").EnumerateArray().Select(l => (l.GetProperty("organizationName").GetString(), l.GetProperty("product").GetString())),
            Is.EqualTo(new[] { ("ACME QA", "KRE"), ("ACME QA", "KSE") }), "the floating license assigned to her key's owner is hers too");
        Assert.That(mine.GetProperty("machines").EnumerateArray().Select(m => m.GetProperty("machineId").GetString()), Is.EqualTo(new[] { "ANN-PC" }));
        Assert.That(mine.GetProperty("machines")[0].GetProperty("leaseExpiresAt").GetDateTimeOffset(), Is.GreaterThan(DateTimeOffset.UtcNow.AddDays(6)));
        Assert.That(mine.GetProperty("sessions").EnumerateArray().Select(s => (s.GetProperty("machineId").GetString(), s.GetProperty("processId").GetString())),
            Is.EqualTo(new[] { ("ANN-CI", "77") }));
        Assert.That(JsonSerializer.Serialize(mine), Does.Not.Contain("BOB-PC"));

        // Removed from the organization, nothing of it is hers any more.
        using (await Admin.PostFormAsync($"/Organizations/{Org}/Users?handler=Remove",
                   new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = $"{await UserIdAsync("ann@acme.test")}" }, tokenPage: $"/Organizations/{Org}/Users")) { }
        var after = await MeAsync((await KitAsync("ann@acme.test")).Token!);
        Assert.That(after.GetProperty("licenses").GetArrayLength() + after.GetProperty("machines").GetArrayLength() + after.GetProperty("sessions").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task A_member_cannot_deactivate_another_member_s_machine_from_My_licenses()
    {
        await AddMemberAsync(Org, "ann@acme.test");
        await AddMemberAsync(Org, "bob@acme.test");
        using (await AssignAsync(Admin, "ann@acme.test, bob@acme.test")) { }
        await (await KitAsync("bob@acme.test")).ActivateAsync(Org, "KSE", "BOB-PC");
        long bobsMachine;
        await using (var db = Db()) bobsMachine = await db.ExecuteScalarAsync<long>("SELECT id FROM machine_activation WHERE machine_id = 'BOB-PC'");

        var ann = await SignedInAsync("ann@acme.test");
        using var response = await ann.PostFormAsync("/Account/Licenses?handler=Deactivate",
            new Dictionary<string, string> { ["activationId"] = $"{bobsMachine}", ["confirmed"] = "true" }, tokenPage: "/Account/Licenses");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain("That machine is not one of your active machines."));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<DateTime?>("SELECT deactivated_at FROM machine_activation WHERE id = @bobsMachine", new { bobsMachine }), Is.Null);
        Assert.That(await (await SignedInAsync("bob@acme.test")).GetTextAsync("/Account/Licenses"), Does.Contain("BOB-PC"));
    }

    private async Task<KitClient> KitAsync(string email)
    {
        var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await kit.LoginAsync(email, Password);
        return kit;
    }

    private async Task<JsonElement> MeAsync(string token)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me/licenses") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
