using System.Net;
using System.Text;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Organizations;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Api;

/// <summary>Per-user activation, floating sessions through LicenseServer.Client against the real server and PostgreSQL.</summary>
public class ClientApiTests : LicenseTest
{
    // Short leases so that expiry can be seen in a test; the lease leaves a heartbeat two chances. The tests that
    // hold a session through its lease run alone ([NonParallelizable], see Parallelism.cs): a machine busy with
    // other tests could make such a session miss its lease while the test counts on it.
    protected override string[] ServerSettings => ["--Kit:Clients:SessionLeaseSeconds=3", "--Kit:Clients:HeartbeatSeconds=1"];

    private KitClient NewKitClient() => new(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);

    /// <summary>A new member, runner@acme.test, and a client holding an API key of theirs.</summary>
    private async Task<KitClient> RunnerClientAsync()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var client = NewKitClient();
        client.ApiKey = await ApiKeyForAsync("runner@acme.test");
        return client;
    }

    private async Task<string> ApiKeyForAsync(string email)
    {
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, await UserIdAsync(email));
        return await Members.EngineKeyAsync(Server, membership!, "test key");
    }

    private static KitApiException Refused(Func<Task> call) => Assert.ThrowsAsync<KitApiException>(async () => await call())!;

    [Test]
    public async Task Login_returns_a_token_and_my_organizations_with_my_role()
    {
        await AddMemberAsync(Org, "dev@acme.test", "admin");
        using var client = NewKitClient();
        var login = await client.LoginAsync("DEV@acme.test", Password);
        Assert.That(login.Organizations, Is.EqualTo(new[] { new Organization(Org, "ACME QA", "Admin") }));
        Assert.That(await client.OrganizationsAsync(), Is.EqualTo(login.Organizations));

        var wrong = Refused(() => NewKitClient().LoginAsync("dev@acme.test", "not it"));
        Assert.That((wrong.Status, wrong.Code), Is.EqualTo((401, "invalid_credentials")));
        var unknown = Refused(() => NewKitClient().LoginAsync("ghost@acme.test", "not it"));
        Assert.That((unknown.Status, unknown.Code, unknown.Message), Is.EqualTo((wrong.Status, wrong.Code, wrong.Message)), "an unknown email looks like a wrong password");
        Assert.That(Refused(() => new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { Token = "bogus" }.OrganizationsAsync()).Code, Is.EqualTo("token_invalid"));
    }

    [Test]
    public async Task A_password_set_by_SQL_must_be_changed_in_the_console_before_the_API_signs_in()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        await using (var db = Db())
            await db.ExecuteAsync("UPDATE public.user_account SET password='plain-Secret-9', password_encrypted=false WHERE email = 'dev@acme.test'");
        var refused = Refused(() => NewKitClient().LoginAsync("dev@acme.test", "plain-Secret-9"));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((403, "password_change_required")));
    }

    [Test]
    public async Task Repeated_failed_logins_are_throttled()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        for (var i = 0; i < 5; i++) Refused(() => NewKitClient().LoginAsync("dev@acme.test", "wrong " + i));
        var throttled = Refused(() => NewKitClient().LoginAsync("dev@acme.test", Password));
        Assert.That((throttled.Status, throttled.Code), Is.EqualTo((429, "too_many_attempts")));
    }

    [Test]
    public async Task Activate_gives_a_lease_the_vendor_key_alone_verifies_and_reactivation_is_idempotent()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using var client = NewKitClient();
        await client.LoginAsync("dev@acme.test", Password);

        var unlicensed = Refused(() => client.ActivateAsync(Org, "KSE", "MACHINE-1"));
        Assert.That((unlicensed.Status, unlicensed.Code), Is.EqualTo((403, "not_licensed")));
        using (await AssignAsync(Admin, "dev@acme.test")) { }

        var lease = await client.ActivateAsync(Org, "KSE", "MACHINE-1");
        var payload = new KitVerifier(TestServer.Vendor.PublicKey).VerifyLease(lease.LeaseText, "MACHINE-1");
        Assert.That((payload.ProductCode, payload.MachineId, payload.UserEmail, payload.OrganizationId), Is.EqualTo(("KSE", "MACHINE-1", "dev@acme.test", Org)));
        Assert.That(lease.ExpiresAt, Is.EqualTo(DateTimeOffset.UtcNow.AddDays(7)).Within(TimeSpan.FromMinutes(1)));

        var again = await client.ActivateAsync(Org, "KSE", "MACHINE-1");
        Assert.That(again.MachineId, Is.EqualTo("MACHINE-1"));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM machine_activation"), Is.EqualTo(1), "re-activating the same machine adds nothing");
        Assert.That(await Admin.GetTextAsync(Page()), Does.Contain("<code>MACHINE-1</code>"), "the Online Licenses list shows the machine");

        await client.ActivateAsync(Org, "KSE", "MACHINE-2");
        var limit = Refused(() => client.ActivateAsync(Org, "KSE", "MACHINE-3"));
        Assert.That((limit.Status, limit.Code), Is.EqualTo((409, "machine_limit")));

        await client.DeactivateAsync(Org, "KSE", "MACHINE-1");
        var gone = Refused(() => client.DeactivateAsync(Org, "KSE", "MACHINE-1"));
        Assert.That((gone.Status, gone.Code), Is.EqualTo((404, "not_activated")));
        Assert.That(await Admin.GetTextAsync(Page()), Does.Not.Contain("<code>MACHINE-1</code>"), "a deactivated machine leaves the Online Licenses list");

        // MACHINE-1's lease stays valid offline for days, so it still counts: churning cannot mint more leases.
        var churn = Refused(() => client.ActivateAsync(Org, "KSE", "MACHINE-3"));
        Assert.That((churn.Status, churn.Code), Is.EqualTo((409, "machine_limit")));
        Assert.That(churn.Message, Does.Contain("still hold a lease valid offline"));
        await client.ActivateAsync(Org, "KSE", "MACHINE-1");
        await client.DeactivateAsync(Org, "KSE", "MACHINE-1");
        await using (var db = Db()) await db.ExecuteAsync("UPDATE machine_activation SET lease_expires_at = now() - interval '1 second' WHERE machine_id = 'MACHINE-1'");
        await client.ActivateAsync(Org, "KSE", "MACHINE-3");
    }

    [Test]
    public async Task Activation_refusals_have_their_codes()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        await CreateUserAsync("outsider@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }
        using var outsider = NewKitClient();
        await outsider.LoginAsync("outsider@acme.test", Password);
        Assert.That(Refused(() => outsider.ActivateAsync(Org, "KSE", "M-1")).Code, Is.EqualTo("not_a_member"));

        using var dev = NewKitClient();
        await dev.LoginAsync("dev@acme.test", Password);
        Assert.That(Refused(() => dev.ActivateAsync(Org, "KRE", "M-1")).Code, Is.EqualTo("not_per_user"));
        Assert.That(Refused(() => dev.ActivateAsync(Org, "NOPE", "M-1")).Code, Is.EqualTo("unknown_product"));

        await using (var db = Db()) await db.ExecuteAsync("UPDATE licensed_product SET expires_at = now() - interval '1 day' WHERE code = 'KSE'");
        Assert.That(Refused(() => dev.ActivateAsync(Org, "KSE", "M-1")).Code, Is.EqualTo("license_expired"));
    }

    [Test]
    public async Task Changing_the_password_revokes_the_users_tokens()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using var client = NewKitClient();
        await client.LoginAsync("dev@acme.test", Password);
        await Server.Service<LicenseServer.Web.Accounts.AccountService>().ResetPasswordAsync("dev@acme.test", "a new password");
        Assert.That(Refused(() => client.OrganizationsAsync()).Code, Is.EqualTo("token_invalid"));
    }

    [Test, NonParallelizable]
    public async Task Checkout_heartbeat_and_release_a_floating_seat()
    {
        using var client = await RunnerClientAsync();
        await using (var session = await client.CheckoutAsync("KRE", "CI-01", "4242", autoHeartbeat: false))
        {
            Assert.That(session.HeartbeatInterval, Is.EqualTo(TimeSpan.FromSeconds(1)));
            Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("<code>CI-01</code>").And.Contain("<td data-testid=\"in-use\">1</td>"));
            var before = session.ExpiresAt;
            await Task.Delay(50);
            await session.HeartbeatAsync();
            Assert.That(session.ExpiresAt, Is.GreaterThan(before));
        }
        Assert.That(await Admin.GetTextAsync(Page("KRE")), Does.Contain("<td data-testid=\"in-use\">0</td>"), "disposing releases the seat");
    }

    [Test, NonParallelizable]
    public async Task A_released_seat_is_free_for_the_next_checkout_at_once()
    {
        await AllocateAsync(Org, "KRE", 1);
        using var client = await RunnerClientAsync();
        for (var i = 0; i < 3; i++)
        {
            var session = await client.CheckoutAsync("KRE", "CI-01", $"{i}", autoHeartbeat: false);
            Assert.That(Refused(() => client.CheckoutAsync("KRE", "CI-01", "other", autoHeartbeat: false)).Code, Is.EqualTo("quota_exceeded"));
            await client.ReleaseAsync(session.Id);
            await client.ReleaseAsync(session.Id); // idempotent: the seat is not freed twice
        }
        await using var one = await client.CheckoutAsync("KRE", "CI-01", "last", autoHeartbeat: false);
        Assert.That(Refused(() => client.CheckoutAsync("KRE", "CI-01", "other", autoHeartbeat: false)).Code, Is.EqualTo("quota_exceeded"),
            "a release counted twice would free a seat that is taken");
    }

    [Test, NonParallelizable]
    public async Task A_session_that_misses_its_heartbeats_frees_its_seat_at_once_and_its_heartbeat_says_session_expired()
    {
        await AllocateAsync(Org, "KRE", 1);
        using var client = await RunnerClientAsync();
        var silent = await client.CheckoutAsync("KRE", "CI-01", "1", autoHeartbeat: false);
        Assert.That(Refused(() => client.CheckoutAsync("KRE", "CI-01", "2", autoHeartbeat: false)).Code, Is.EqualTo("quota_exceeded"));

        await Task.Delay(TimeSpan.FromSeconds(3.5));
        await using var next = await client.CheckoutAsync("KRE", "CI-01", "2", autoHeartbeat: false);
        var expired = Refused(() => silent.HeartbeatAsync());
        Assert.That((expired.Status, expired.Code), Is.EqualTo((410, "session_expired")));
    }

    [Test, NonParallelizable]
    public async Task Automatic_heartbeats_keep_a_session_alive_past_its_lease()
    {
        await AllocateAsync(Org, "KRE", 1);
        using var client = await RunnerClientAsync();
        await using var session = await client.CheckoutAsync("KRE", "CI-01", "1");
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.That(session.Lost, Is.Null);
        Assert.That(Refused(() => client.CheckoutAsync("KRE", "CI-01", "2", autoHeartbeat: false)).Code, Is.EqualTo("quota_exceeded"), "the heartbeating session still holds the seat");
    }

    [Test]
    public async Task A_checkout_notes_its_key_s_last_use_once_it_is_a_minute_old()
    {
        await AllocateAsync(Org, "KRE", 5);
        using var client = await RunnerClientAsync();
        async Task<DateTime> LastUsedAsync()
        {
            await using var db = Db();
            return await db.ExecuteScalarAsync<DateTime>("SELECT last_used_at FROM api_key WHERE user_id = @id", new { id = await UserIdAsync("runner@acme.test") });
        }

        await using (await client.CheckoutAsync("KRE", "CI-01", "1", autoHeartbeat: false)) { }
        var first = await LastUsedAsync();
        Clock.Offset += TimeSpan.FromSeconds(30);
        await using (await client.CheckoutAsync("KRE", "CI-01", "2", autoHeartbeat: false)) { }
        Assert.That(await LastUsedAsync(), Is.EqualTo(first), "within the minute the key's row is left alone");
        Clock.Offset += TimeSpan.FromSeconds(45);
        await using (await client.CheckoutAsync("KRE", "CI-01", "3", autoHeartbeat: false)) { }
        Assert.That(await LastUsedAsync(), Is.GreaterThan(first.AddSeconds(70)), "a use more than a minute after the last one is noted");
    }

    [Test]
    public async Task API_key_refusals_have_their_codes()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyForAsync("runner@acme.test");
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        var body = new StringContent("""{"product":"KRE","machineId":"CI-01","processId":"1"}""", Encoding.UTF8, "application/json");
        using (var inQuery = await http.PostAsync($"/api/v1/sessions?apiKey={key}", body))
            Assert.That(await CodeAsync(inQuery), Is.EqualTo((400, "api_key_in_query")));
        using (var none = await http.PostAsync("/api/v1/sessions", body))
            Assert.That(await CodeAsync(none), Is.EqualTo((401, "api_key_required")));

        using var client = NewKitClient();
        client.ApiKey = "kit_00000000_" + new string('A', 43);
        Assert.That(Refused(() => client.CheckoutAsync("KRE", "CI-01", "1")).Code, Is.EqualTo("api_key_invalid"));
        client.ApiKey = key;
        Assert.That(Refused(() => client.CheckoutAsync("KSE", "CI-01", "1")).Code, Is.EqualTo("not_floating"));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<DateTime?>("SELECT last_used_at FROM api_key WHERE user_id = @id", new { id = await UserIdAsync("runner@acme.test") }),
                Is.Not.Null, "the checkout's own statement notes the key's use");

        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, await UserIdAsync("runner@acme.test"));
        var keyId = (await Server.Service<LicenseService>().ApiKeysAsync(membership!, new LicenseServer.Data.Database.ListQuery())).Rows[0].Id;
        await Server.Service<LicenseService>().RevokeApiKeyAsync(membership!, keyId);
        var revoked = Refused(() => client.CheckoutAsync("KRE", "CI-01", "1"));
        Assert.That((revoked.Status, revoked.Code), Is.EqualTo((401, "api_key_revoked")));
        var release = Refused(() => client.ReleaseAsync(Guid.NewGuid()));
        Assert.That((release.Status, release.Code), Is.EqualTo((401, "api_key_revoked")), "a release says why its key was refused, not that the session is unknown");
    }

    /// <summary>A heartbeat holds to the server's license as a checkout does, and says why it was refused.</summary>
    [TestCase("UPDATE server_license SET valid_until = now() - interval '1 minute'", 403, "license_expired")]
    [TestCase("UPDATE server_license SET issued_at = now() + interval '1 day'", 403, "clock_tampering")]
    [TestCase("DELETE FROM server_license", 503, "server_not_activated")]
    public async Task A_heartbeat_under_a_license_no_longer_in_force_renews_nothing_and_says_why(string change, int status, string code)
    {
        using var client = await RunnerClientAsync();
        var session = await client.CheckoutAsync("KRE", "CI-01", "1", autoHeartbeat: false);
        async Task<DateTime> ExpiresAtAsync()
        {
            await using var db = Db();
            return await db.ExecuteScalarAsync<DateTime>("SELECT expires_at FROM floating_session WHERE id = @Id", new { session.Id });
        }
        var before = await ExpiresAtAsync();
        await using (var db = Db()) await db.ExecuteAsync(change);

        var refused = Refused(() => session.HeartbeatAsync());
        Assert.That((refused.Status, refused.Code), Is.EqualTo((status, code)), refused.Message);
        Assert.That(await ExpiresAtAsync(), Is.EqualTo(before), "the refused heartbeat renewed nothing");
    }

    [Test, NonParallelizable]
    public async Task One_organizations_key_cannot_end_another_users_session()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        await AddMemberAsync(Org, "other@acme.test");
        using var runner = NewKitClient();
        runner.ApiKey = await ApiKeyForAsync("runner@acme.test");
        using var other = NewKitClient();
        other.ApiKey = await ApiKeyForAsync("other@acme.test");
        await using var session = await runner.CheckoutAsync("KRE", "CI-01", "1", autoHeartbeat: false);
        Assert.That(Refused(() => other.ReleaseAsync(session.Id)).Code, Is.EqualTo("session_not_found"));
        Assert.That(Refused(() => other.HeartbeatAsync(session.Id)).Code, Is.EqualTo("session_expired"));
        await session.HeartbeatAsync();
    }

    [Test]
    public async Task Concurrent_heartbeats_are_renewed_together_and_each_refusal_keeps_its_reason()
    {
        var clients = new List<KitClient>();
        var sessions = new List<FloatingSession>();
        foreach (var name in new[] { "a", "b", "c", "revoked", "removed" })
        {
            var userId = await AddMemberAsync(Org, $"{name}@acme.test");
            var client = NewKitClient();
            client.ApiKey = await ApiKeyForAsync($"{name}@acme.test");
            clients.Add(client);
            sessions.Add(await client.CheckoutAsync("KRE", $"CI-{name}", "1", autoHeartbeat: false));
        }
        await using (var db = Db())
        {
            // This fixture's leases last 3 s, and on a busy machine the setup can take longer: this test is about
            // batches and refusals, not time, so its sessions get an hour.
            await db.ExecuteAsync("UPDATE floating_session SET expires_at = now() + interval '1 hour' WHERE ended_at IS NULL");
            await db.ExecuteAsync("UPDATE api_key SET revoked_at = now() WHERE user_id = (SELECT id FROM user_account WHERE email = 'revoked@acme.test')");
        }
        using (await Admin.PostFormAsync($"/Organizations/{Org}/Users?handler=Remove",
                   new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = (await UserIdAsync("removed@acme.test")).ToString() }, tokenPage: $"/Organizations/{Org}/Users")) { }

        // Forty heartbeats at once, eight per session, batched together by the server.
        var beats = Enumerable.Range(0, 40).Select(async i =>
        {
            try { await sessions[i % 5].HeartbeatAsync(); return "renewed"; }
            catch (KitApiException e) { return e.Code; }
        });
        var answers = await Task.WhenAll(beats);
        Assert.That(answers.Where((_, i) => i % 5 < 3), Is.All.EqualTo("renewed"));
        Assert.That(answers.Where((_, i) => i % 5 == 3), Is.All.EqualTo("api_key_revoked"));
        Assert.That(answers.Where((_, i) => i % 5 == 4), Is.All.EqualTo("api_key_revoked"), "removing a member revokes their keys");
        await using var check = Db();
        Assert.That(await check.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > now()"), Is.EqualTo(4),
            "the revoked key's session still runs out its lease; the removed member's ended");
        foreach (var client in clients) client.Dispose();
    }

    private static async Task<(int, string?)> CodeAsync(HttpResponseMessage response)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return ((int)response.StatusCode, json.RootElement.GetProperty("code").GetString());
    }

    [Test]
    public async Task A_process_id_sent_as_a_JSON_number_is_taken_as_its_digits()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyForAsync("runner@acme.test");
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions")
        {
            Content = new StringContent("""{"product":"KRE","machineId":"CI-01","processId":4711}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", key);
        using var response = await http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<string>("SELECT process_id FROM floating_session"), Is.EqualTo("4711"));
    }

    [TestCase("""{"product":"KRE","machineId":"CI-01","processId":"1","extra":true}""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE","machineId":"CI-01"}""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE","machineId":null,"processId":"1"}""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE","machineId":"CI 01","processId":"1"}""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE",""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE","machineId":"CI-01","processId":true}""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE","machineId":"CI-01","processId":"1\u0000"}""", "application/json", 400, "invalid_request")]
    [TestCase("""{"product":"KRE","machineId":"CI-01","processId":"1"}""", "text/plain", 415, "unsupported_media_type")]
    [TestCase("LONG_MACHINE", "application/json", 400, "invalid_request")]
    [TestCase("HUGE_BODY", "application/json", 413, "body_too_large")]
    public async Task Malformed_requests_get_a_problem_response_and_store_nothing(string body, string contentType, int status, string code)
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyForAsync("runner@acme.test");
        body = body switch
        {
            "LONG_MACHINE" => $$"""{"product":"KRE","machineId":"{{new string('m', 10_000)}}","processId":"1"}""",
            "HUGE_BODY" => $$"""{"product":"KRE","machineId":"CI-01","processId":"1","pad":"{{new string('x', 1024 * 1024)}}"}""",
            _ => body,
        };
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sessions") { Content = new StringContent(body, Encoding.UTF8, contentType) };
        request.Headers.Add("X-Api-Key", key);
        using var response = await http.SendAsync(request);
        Assert.That(await CodeAsync(response), Is.EqualTo((status, code)));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT (SELECT count(*) FROM floating_session) + (SELECT count(*) FROM floating_machine)"), Is.Zero);
    }

    [Test]
    public async Task The_OpenAPI_document_describes_every_route()
    {
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        var doc = await http.GetStringAsync("/api/v1/openapi.json");
        foreach (var route in new[] { "/api/v1/auth/login", "/api/v1/organizations", "/api/v1/organizations/{orgId}/activations", "/api/v1/sessions",
                     "/api/v1/sessions/{sessionId}/heartbeat", "/api/v1/sessions/{sessionId}", "/api/v1/server" })
            Assert.That(doc, Does.Contain($"\"{route}\""), route);
        using var unknown = await http.GetAsync("/api/v1/nothing-here");
        Assert.That(await CodeAsync(unknown), Is.EqualTo((404, "not_found")));
    }

    [Test]
    public async Task The_server_endpoint_gives_the_key_and_the_vendors_proof_for_it()
    {
        using var client = NewKitClient();
        var info = await client.ServerAsync();
        Assert.That(info.InstallationId, Is.EqualTo((await Server.IdentityAsync()).InstallationId));
        var vouched = new LicenseVerifier(new TrustedVendorKeys([TestServer.Vendor.PublicKey]), TimeProvider.System).VerifySignature(LicenseFile.Parse(info.VendorLicense!));
        Assert.That(vouched.ServerPublicKey, Is.EqualTo(info.ServerPublicKey));
    }
}
