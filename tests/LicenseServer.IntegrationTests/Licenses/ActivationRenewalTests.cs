using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Core.Security;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>
/// Per-user activation's hot case, the renewal of an active machine, which the server does in one round trip: it answers,
/// stores and refuses exactly as a first activation's checks do, and a renewal it cannot make in that round
/// trip goes the whole way.
/// </summary>
public class ActivationRenewalTests : SeatRuleTest
{
    private sealed record ActivationRow(DateTime ActivatedAt, DateTime LastSeenAt, DateTime LeaseExpiresAt, DateTime? DeactivatedAt);

    private async Task<ActivationRow> RowAsync(string machineId)
    {
        await using var db = Db();
        return await db.QuerySingleAsync<ActivationRow>(
            "SELECT activated_at, last_seen_at, lease_expires_at, deactivated_at FROM machine_activation WHERE organization_id = @Org AND machine_id = @machineId",
            new { Org, machineId });
    }

    private Task<long> EventsAsync() => CountAsync("SELECT count(*) FROM machine_activation_event WHERE organization_id = @Org", new { Org });

    /// <summary>dev@acme.test, a KSE license assigned, signed in, with MACHINE-1 activated.</summary>
    private async Task<KitClient> ActivatedDevAsync()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }
        var dev = await SignedInKitClientAsync("dev@acme.test");
        await dev.ActivateAsync(Org, "KSE", "MACHINE-1");
        return dev;
    }

    [Test]
    public async Task A_renewal_extends_the_stored_lease_to_the_signed_one_and_adds_no_event_or_audit_entry()
    {
        using var dev = await ActivatedDevAsync();
        var first = await RowAsync("MACHINE-1");
        var (events, audit) = (await EventsAsync(), await AuditAsync("license.machine_activated"));
        Assert.That(audit, Has.Count.EqualTo(1));

        await Task.Delay(20);
        var renewed = await dev.ActivateAsync(Org, "KSE", "MACHINE-1");
        var payload = new KitVerifier(TestServer.Vendor.PublicKey).VerifyLease(renewed.LeaseText, "MACHINE-1");
        Assert.That((payload.ProductCode, payload.MachineId, payload.UserEmail, payload.OrganizationId, payload.OrganizationName),
            Is.EqualTo(("KSE", "MACHINE-1", "dev@acme.test", Org, "ACME QA")));
        Assert.That(renewed.ExpiresAt, Is.EqualTo(DateTimeOffset.UtcNow.AddDays(7)).Within(TimeSpan.FromMinutes(1)));
        Assert.That(payload.ExpiresAt, Is.EqualTo(renewed.ExpiresAt));

        var row = await RowAsync("MACHINE-1");
        Assert.That(row.ActivatedAt, Is.EqualTo(first.ActivatedAt), "a renewal is not a new activation");
        Assert.That(row.LastSeenAt, Is.GreaterThan(first.LastSeenAt));
        Assert.That(row.LeaseExpiresAt, Is.GreaterThan(first.LeaseExpiresAt));
        Assert.That(new DateTimeOffset(DateTime.SpecifyKind(row.LeaseExpiresAt, DateTimeKind.Utc)), Is.GreaterThanOrEqualTo(payload.ExpiresAt.AddTicks(-10)),
            "a deactivated machine counts while its lease can be checked offline: the stored lease reaches the signed one");
        Assert.That(await EventsAsync(), Is.EqualTo(events), "the churn limit counts machines becoming active, not renewals");
        Assert.That(await AuditAsync("license.machine_activated"), Is.EqualTo(audit));
        Assert.That(await CountAsync("SELECT count(*) FROM machine_activation"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_renewal_gets_a_lease_that_ends_with_the_product_or_the_servers_license()
    {
        using var dev = await ActivatedDevAsync();
        var productEnd = DateTimeOffset.UtcNow.AddDays(3);
        await using (var db = Db()) await db.ExecuteAsync("UPDATE licensed_product SET expires_at = @productEnd WHERE code = 'KSE'", new { productEnd });
        var lease = await dev.ActivateAsync(Org, "KSE", "MACHINE-1");
        Assert.That(lease.ExpiresAt, Is.EqualTo(productEnd).Within(TimeSpan.FromMilliseconds(1)));

        var licenseEnd = DateTimeOffset.UtcNow.AddDays(2);
        await using (var db = Db()) await db.ExecuteAsync("UPDATE server_license SET valid_until = @licenseEnd", new { licenseEnd });
        lease = await dev.ActivateAsync(Org, "KSE", "MACHINE-1");
        Assert.That(lease.ExpiresAt, Is.EqualTo(licenseEnd).Within(TimeSpan.FromMilliseconds(1)));
        Assert.That(new KitVerifier(TestServer.Vendor.PublicKey).VerifyLease(lease.LeaseText, "MACHINE-1").ExpiresAt, Is.EqualTo(lease.ExpiresAt));
        Assert.That((await RowAsync("MACHINE-1")).LeaseExpiresAt, Is.GreaterThanOrEqualTo(licenseEnd.UtcDateTime));
    }

    /// <summary>What changed since MACHINE-1 was activated, and the refusal its renewal then gets.</summary>
    [TestCase("DELETE FROM license_assignment WHERE product_code = 'KSE'", 403, "not_licensed")]
    [TestCase("DELETE FROM license_assignment WHERE product_code = 'KSE'; DELETE FROM organization_member WHERE user_id = (SELECT id FROM user_account WHERE email = 'dev@acme.test')", 403, "not_a_member")]
    [TestCase("UPDATE licensed_product SET expires_at = now() - interval '1 minute' WHERE code = 'KSE'", 403, "license_expired")]
    [TestCase("UPDATE licensed_product SET kind = 'floating' WHERE code = 'KSE'", 422, "not_per_user")]
    [TestCase("UPDATE server_license SET valid_until = now() - interval '1 minute'", 403, "license_expired")]
    [TestCase("UPDATE server_license SET issued_at = now() + interval '1 day'", 403, "clock_tampering")]
    [TestCase("INSERT INTO disabled_machine (organization_id, machine_id, reason, disabled_at) SELECT id, 'MACHINE-1', 'Lost', now() FROM organization", 403, "machine_disabled")]
    [TestCase("UPDATE api_token SET revoked_at = now()", 401, "token_invalid")]
    [TestCase("UPDATE api_token SET expires_at = now() - interval '1 second'", 401, "token_invalid")]
    [TestCase("UPDATE user_account SET disabled = true WHERE email = 'dev@acme.test'", 401, "token_invalid")]
    [TestCase("UPDATE user_account SET security_stamp = gen_random_uuid() WHERE email = 'dev@acme.test'", 401, "token_invalid")]
    public async Task A_refused_renewal_has_the_refusals_code_and_stores_nothing(string change, int status, string code)
    {
        using var dev = await ActivatedDevAsync();
        var before = await RowAsync("MACHINE-1");
        var events = await EventsAsync();
        await using (var db = Db()) await db.ExecuteAsync(change);

        var refused = Refused(() => dev.ActivateAsync(Org, "KSE", "MACHINE-1"));
        Assert.That((refused.Status, refused.Code), Is.EqualTo((status, code)), refused.Message);
        Assert.That(await RowAsync("MACHINE-1"), Is.EqualTo(before), "the refused renewal extended nothing");
        Assert.That(await EventsAsync(), Is.EqualTo(events));
    }

    [Test]
    public async Task Activating_a_deactivated_machine_again_is_a_new_activation_not_a_renewal()
    {
        using var dev = await ActivatedDevAsync();
        await dev.DeactivateAsync(Org, "KSE", "MACHINE-1");
        var deactivated = await RowAsync("MACHINE-1");
        Assert.That(deactivated.DeactivatedAt, Is.Not.Null);

        await dev.ActivateAsync(Org, "KSE", "MACHINE-1");
        var row = await RowAsync("MACHINE-1");
        Assert.That(row.DeactivatedAt, Is.Null);
        Assert.That(row.ActivatedAt, Is.GreaterThan(deactivated.ActivatedAt), "it became active again");
        Assert.That(await EventsAsync(), Is.EqualTo(2), "the churn limit counts it");
        Assert.That(await AuditAsync("license.machine_activated"), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task Concurrent_renewals_of_one_users_machines_all_succeed_and_stay_renewals()
    {
        using var dev = await ActivatedDevAsync();
        await dev.ActivateAsync(Org, "KSE", "MACHINE-2");
        var leases = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => dev.ActivateAsync(Org, "KSE", $"MACHINE-{1 + i % 2}")));
        Assert.That(leases.Select(l => l.MachineId).Distinct(), Is.EquivalentTo(new[] { "MACHINE-1", "MACHINE-2" }));
        Assert.That(await CountAsync("SELECT count(*) FROM machine_activation WHERE deactivated_at IS NULL"), Is.EqualTo(2));
        Assert.That(await EventsAsync(), Is.EqualTo(2));
        var latest = leases.Where(l => l.MachineId == "MACHINE-1").Max(l => l.ExpiresAt);
        Assert.That(new DateTimeOffset(DateTime.SpecifyKind((await RowAsync("MACHINE-1")).LeaseExpiresAt, DateTimeKind.Utc)),
            Is.GreaterThanOrEqualTo(latest.AddTicks(-10)), "the stored lease reaches the latest signed one");
    }

    /// <summary>
    /// Renewals that arrive together are written together (RenewalBatcher): each caller still gets its own
    /// lease or its own refusal, and a renewal whose statement fails (here a trigger raises for one machine)
    /// costs the renewals it was batched with nothing: they run again alone.
    /// </summary>
    [Test]
    public async Task A_burst_of_renewals_by_many_users_answers_each_caller_as_alone()
    {
        var emails = Enumerable.Range(0, 8).Select(i => $"user{i}@acme.test").ToArray();
        var clients = new List<KitClient>();
        foreach (var email in emails)
        {
            await AddMemberAsync(Org, email);
            using (await AssignAsync(Admin, email)) { }
            var client = await SignedInKitClientAsync(email);
            await client.ActivateAsync(Org, "KSE", "MACHINE-1");
            clients.Add(client);
        }
        await clients[0].ActivateAsync(Org, "KSE", "MACHINE-POISON");
        await using (var db = Db())
            await db.ExecuteAsync("""
                DELETE FROM license_assignment WHERE user_id = (SELECT id FROM user_account WHERE email = 'user2@acme.test');
                UPDATE api_token SET revoked_at = now() WHERE user_id = (SELECT id FROM user_account WHERE email = 'user5@acme.test');
                CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'poisoned renewal'; END $$;
                CREATE TRIGGER poison BEFORE UPDATE ON machine_activation FOR EACH ROW WHEN (NEW.machine_id = 'MACHINE-POISON') EXECUTE FUNCTION poison();
                """);
        DateTime before;
        await using (var db = Db()) before = await db.ExecuteScalarAsync<DateTime>("SELECT max(lease_expires_at) FROM machine_activation WHERE machine_id = 'MACHINE-1'");

        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        async Task<HttpStatusCode> PoisonedAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/organizations/{Org}/activations")
            {
                Content = new StringContent("{\"product\":\"KSE\",\"machineId\":\"MACHINE-POISON\"}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", clients[0].Token);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }
        async Task<string> RenewAsync(int user)
        {
            try
            {
                var lease = await clients[user].ActivateAsync(Org, "KSE", "MACHINE-1");
                return new KitVerifier(TestServer.Vendor.PublicKey).VerifyLease(lease.LeaseText, "MACHINE-1").UserEmail ?? "(no email)";
            }
            catch (KitApiException e)
            {
                return e.Code;
            }
        }

        for (var round = 0; round < 3; round++)
        {
            var poisoned = Enumerable.Range(0, 4).Select(_ => PoisonedAsync()).ToArray();
            var renewals = Enumerable.Range(0, 4 * emails.Length).Select(i => RenewAsync(i % emails.Length)).ToArray();
            var answers = await Task.WhenAll(renewals);
            for (var i = 0; i < answers.Length; i++)
            {
                var user = i % emails.Length;
                var expected = user switch { 2 => "not_licensed", 5 => "token_invalid", _ => emails[user] };
                Assert.That(answers[i], Is.EqualTo(expected), $"round {round}, call {i}: user{user}'s own lease or refusal");
            }
            Assert.That(await Task.WhenAll(poisoned), Has.All.EqualTo(HttpStatusCode.InternalServerError));
        }
        await using (var db = Db())
        {
            var leases = (await db.QueryAsync<(string Email, DateTime Lease)>("""
                SELECT u.email, a.lease_expires_at FROM machine_activation a JOIN user_account u ON u.id = a.user_id
                WHERE a.machine_id = 'MACHINE-1' ORDER BY u.email
                """)).ToList();
            Assert.That(leases.Where(l => l.Lease > before).Select(l => l.Email), Is.EquivalentTo(emails.Where((_, i) => i is not 2 and not 5)),
                "every renewal that was answered is stored; the refused ones stored nothing");
        }
        Assert.That(await EventsAsync(), Is.EqualTo(emails.Length + 1), "no renewal became a new activation");
        foreach (var client in clients) client.Dispose();
    }

    [TestCase(null, "{\"product\":\"KSE\",\"machineId\":\"MACHINE-1\"}", "application/json", 401, "unauthorized")]
    [TestCase("UNKNOWN", "{\"product\":\"KSE\"", "application/json", 401, "token_invalid")]
    // The route takes JSON only: another content type is refused before the token is looked at, as ever.
    [TestCase("UNKNOWN", "{\"product\":\"KSE\",\"machineId\":\"MACHINE-1\"}", "text/plain", 415, "unsupported_media_type")]
    [TestCase("bogus", "{\"product\":\"KSE\",\"machineId\":\"bad id\"}", "application/json", 401, "token_invalid")]
    [TestCase("UNKNOWN", "{\"product\":\"KSE\",\"machineId\":\"MACHINE-1\"}", "application/json", 401, "token_invalid")]
    [TestCase("VALID", "{\"product\":\"KSE\"", "application/json", 400, "invalid_request")]
    [TestCase("VALID", "{\"product\":\"KSE\",\"machineId\":\"bad id\"}", "application/json", 400, "invalid_request")]
    [TestCase("VALID", "{\"product\":\"KSE\",\"machineId\":\"MACHINE-1\"}", "text/plain", 415, "unsupported_media_type")]
    public async Task A_refused_token_answers_401_before_a_bad_body_does(string? token, string body, string contentType, int status, string code)
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }
        using var dev = await SignedInKitClientAsync("dev@acme.test");
        token = token switch { "UNKNOWN" => SecretToken.New(), "VALID" => dev.Token, _ => token };
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/organizations/{Org}/activations") { Content = new StringContent(body, Encoding.UTF8, contentType) };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(((int)response.StatusCode, json.RootElement.GetProperty("code").GetString()), Is.EqualTo((status, code)));
        Assert.That(await CountAsync("SELECT count(*) FROM machine_activation"), Is.Zero);
        Assert.That(response.StatusCode, Is.Not.EqualTo(HttpStatusCode.OK));
    }
}
