using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using LicenseServer.Client;
using LicenseServer.Data.Alerts;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Organizations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Alerts;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Licenses;

/// <summary>Usage alerts against a real SMTP server (MailDev) and a webhook receiver on loopback.</summary>
public class AlertTests : LicenseTest
{
    private const string Secret = "test-webhook-secret-0123456789";
    private WebhookReceiver _receiver = null!;
    private string Settings => $"/Organizations/{Org}/Settings";

    protected override string[] ServerSettings => ["--Kit:Alerts:WebhookBaseDelayMs=20", "--Kit:Usage:SampleSeconds=3600"];

    [SetUp]
    public async Task StartReceiver()
    {
        _receiver = await WebhookReceiver.StartAsync();
        await Mail.ClearAsync();
    }

    [TearDown]
    public async Task StopReceiver() => await _receiver.DisposeAsync();

    private async Task<HttpResponseMessage> SaveAlertsAsync(ConsoleClient client, string threshold, string? webhookUrl, string secret = Secret, bool onRefusal = true, bool generate = false)
    {
        var fields = new Dictionary<string, string> { ["threshold"] = threshold, ["webhookUrl"] = webhookUrl ?? "", ["webhookSecret"] = secret };
        if (onRefusal) fields["onRefusal"] = "true";
        if (generate) fields["generateSecret"] = "true";
        return await client.PostFormAsync(Settings + "?handler=Alerts", fields, tokenPage: Settings);
    }

    private Task SaveMailServerAsync() => UseMailDevAsync(Org);

    private async Task<KitClient> KitAsync()
    {
        var userId = await AddMemberAsync(Org, "runner@acme.test");
        var membership = await Server.Service<OrganizationRepository>().MembershipAsync(Org, userId);
        return new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock) { ApiKey = await Members.EngineKeyAsync(Server, membership!, "ci") };
    }

    private async Task IdleAsync() => Assert.That(await Server.Service<AlertTrigger>().WaitIdleAsync(TimeSpan.FromSeconds(30)), "alert work did not finish");

    private static void AssertSigned(ReceivedHook hook, string secret = Secret)
    {
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), hook.Body));
        Assert.That(hook.Signature, Is.EqualTo(expected), "X-Kit-Signature is the HMAC-SHA256 of the exact body");
        Assert.That(hook.ContentType, Does.StartWith("application/json"));
        using var json = JsonDocument.Parse(hook.Body);
        Assert.That(json.RootElement.GetProperty("delivery_id").GetString(), Is.EqualTo(hook.Delivery));
        Assert.That(json.RootElement.GetProperty("event").GetString(), Is.EqualTo(hook.Event));
    }

    private async Task<IReadOnlyList<AuditRow>> AlertAuditAsync() =>
        (await Server.Service<AuditRepository>().ListAsync(Org)).Where(a => a.Action.StartsWith("alert", StringComparison.Ordinal)).ToList();

    [Test]
    public async Task A_threshold_crossing_mails_the_admins_and_posts_a_signed_webhook_once_an_hour_then_a_refusal_alerts_after_the_hour()
    {
        await SaveMailServerAsync();
        await AddMemberAsync(Org, "boss@acme.test", "admin");
        await AddMemberAsync(Org, "dev@acme.test");
        using (var saved = await SaveAlertsAsync(Admin, "60", _receiver.Url))
            Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(saved));
        using var kit = await KitAsync();

        await kit.CheckoutAsync("KRE", "M1", "1", autoHeartbeat: false);
        await kit.CheckoutAsync("KRE", "M2", "1", autoHeartbeat: false);
        await IdleAsync();
        Assert.That(_receiver.Received, Is.Empty, "2 of 5 seats are below 60%");

        await kit.CheckoutAsync("KRE", "M3", "1", autoHeartbeat: false);
        var hook = (await _receiver.WaitForAsync(1))[0];
        AssertSigned(hook);
        Assert.That(hook.Event, Is.EqualTo("usage_threshold"));
        var body = JsonDocument.Parse(hook.Body).RootElement;
        Assert.That(body.GetProperty("organization_id").GetInt64(), Is.EqualTo(Org));
        Assert.That(body.GetProperty("organization_name").GetString(), Is.EqualTo("ACME QA"));
        Assert.That(body.GetProperty("product").GetString(), Is.EqualTo("KRE"));
        Assert.That((body.GetProperty("in_use").GetInt32(), body.GetProperty("quota").GetInt32(), body.GetProperty("threshold").GetInt32()), Is.EqualTo((3, 5, 60)));
        var mail = await Mail.WaitForAsync(AdminEmail, "KRE reached 60% of its seats in ACME QA");
        Assert.That(mail.Text, Does.Contain("3 of the 5 KRE seats").And.Contain($"/Organizations/{Org}/Usage?product=KRE"));
        await Mail.WaitForAsync("boss@acme.test", "KRE reached 60%");
        await IdleAsync();
        Assert.That(await Mail.MailsToAsync("dev@acme.test"), Is.Empty, "members are not alerted");

        await kit.CheckoutAsync("KRE", "M4", "1", autoHeartbeat: false);
        await IdleAsync();
        Assert.That(_receiver.Received, Has.Count.EqualTo(1), "a second crossing within the hour sends nothing");
        Assert.That(await Mail.MailsToAsync(AdminEmail), Has.Count.EqualTo(1));
        Assert.That(await Server.Service<AlertRepository>().TryClaimAsync(Org, "KRE", Clock.GetUtcNow(), TimeSpan.FromHours(1)), Is.False,
            "another node cannot claim this hour's alert either");

        Clock.Offset += TimeSpan.FromMinutes(61); // the sessions expire too: 1 of 5 in use below
        await kit.CheckoutAsync("KRE", "M5", "1", autoHeartbeat: false);
        var refused = Assert.ThrowsAsync<KitApiException>(() => kit.CheckoutAsync("KRE", "M6", "1", autoHeartbeat: false))!;
        Assert.That(refused.Code, Is.EqualTo("machine_limit"));
        var second = (await _receiver.WaitForAsync(2))[1];
        AssertSigned(second);
        Assert.That(second.Event, Is.EqualTo("seat_refused"));
        Assert.That(JsonDocument.Parse(second.Body).RootElement.GetProperty("refusal_code").GetString(), Is.EqualTo("machine_limit"));
        Assert.That(second.Delivery, Is.Not.EqualTo(hook.Delivery));
        await Mail.WaitForAsync(AdminEmail, "A KRE seat was refused in ACME QA");
        await IdleAsync();
        Assert.That(_receiver.Received, Has.Count.EqualTo(2));

        var audit = await Server.Service<AuditRepository>().ListAsync(Org);
        var updated = audit.Single(a => a.Action == "alerts.updated");
        Assert.That(updated.ActorEmail, Is.EqualTo(AdminEmail));
        Assert.That(updated.Details, Does.Contain("threshold 60%").And.Contain("webhook to 127.0.0.1").And.Not.Contain(Secret));
        var sent = audit.Where(a => a.Action == "alert.sent").Select(a => a.Details).ToList();
        Assert.That(sent, Has.Count.EqualTo(2));
        Assert.That(sent[1], Does.StartWith("usage_threshold: 3 of 5 seats in use, threshold 60%").And.Contain("email to 2 of 2 owners and admins").And.Contain("webhook answered 200 after 1 attempt"));
        Assert.That(sent[0], Does.StartWith("seat_refused (machine_limit)"));
        Assert.That(audit.Where(a => a.Action == "alert.sent").Select(a => a.Subject), Has.All.EqualTo("KRE"));
        var admin = await SignedInAsync(AdminEmail); // the clock moved past the console session's idle time
        var page = await admin.GetTextAsync($"/Organizations/{Org}/Audit?action=alert");
        Assert.That(page, Does.Contain("<code>alert.sent</code>").And.Contain("<code>alerts.updated</code>").And.Contain("data-testid=\"audit-count\">3 entries"));
    }

    [Test]
    public async Task A_webhook_answering_5xx_is_retried_with_backoff_and_a_4xx_is_not()
    {
        using (await SaveAlertsAsync(Admin, "20", _receiver.Url)) { }
        using var kit = await KitAsync();
        _receiver.AnswerNext(500, 500, 200);
        await kit.CheckoutAsync("KRE", "M1", "1", autoHeartbeat: false);
        var hooks = await _receiver.WaitForAsync(3);
        await IdleAsync();
        Assert.That(_receiver.Received.Select(h => h.Answered), Is.EqualTo(new[] { 500, 500, 200 }), "exactly three attempts");
        Assert.That(hooks.Select(h => h.Delivery).Distinct().Count(), Is.EqualTo(1), "one delivery, retried");
        Assert.That(hooks.Select(h => Convert.ToBase64String(h.Body)).Distinct().Count(), Is.EqualTo(1), "the same body every time");
        foreach (var hook in hooks) AssertSigned(hook);

        Clock.Offset += TimeSpan.FromMinutes(61);
        _receiver.AnswerNext(400);
        await kit.CheckoutAsync("KRE", "M2", "1", autoHeartbeat: false);
        await _receiver.WaitForAsync(4);
        await IdleAsync();
        Assert.That(_receiver.Received, Has.Count.EqualTo(4), "a 4xx is not retried");

        var sent = (await AlertAuditAsync()).Where(a => a.Action == "alert.sent").Select(a => a.Details).ToList();
        Assert.That(sent[1], Does.Contain("no email (no mail server is set)").And.Contain("webhook answered 200 after 3 attempts"));
        Assert.That(sent[0], Does.Contain("webhook answered 400 after 1 attempt"));
    }

    [Test]
    public async Task A_generated_webhook_secret_is_shown_once_and_stored_encrypted()
    {
        using var saved = await SaveAlertsAsync(Admin, "", _receiver.Url, secret: "");
        var html = await saved.Content.ReadAsStringAsync();
        var secret = System.Text.RegularExpressions.Regex.Match(html, "id=\"newSecret\" readonly value=\"([^\"]+)\"").Groups[1].Value;
        Assert.That(secret, Does.StartWith("whsec_").And.Length.GreaterThan(40));
        Assert.That(await Admin.GetTextAsync(Settings), Does.Not.Contain(secret).And.Contain("leave empty to keep the stored one"));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<string>("SELECT webhook_secret_protected FROM alert_settings"), Is.Not.Null.And.Not.Contain(secret));
        var stored = await Server.Service<AlertSettingsService>().GetAsync(Org);
        Assert.That(stored!.WebhookSecret, Is.EqualTo(secret));
        Assert.That(stored.ThresholdPercent, Is.Null, "an empty threshold sends no usage alerts");

        using (await SaveAlertsAsync(Admin, "", _receiver.Url, secret: "")) { }
        Assert.That((await Server.Service<AlertSettingsService>().GetAsync(Org))!.WebhookSecret, Is.EqualTo(secret), "kept when left empty");
        using (await SaveAlertsAsync(Admin, "", _receiver.Url, secret: "", generate: true)) { }
        Assert.That((await Server.Service<AlertSettingsService>().GetAsync(Org))!.WebhookSecret, Is.Not.EqualTo(secret), "Generate replaces it");
    }

    [TestCase("0", "", "from 1 to 100")]
    [TestCase("101", "", "from 1 to 100")]
    [TestCase("many", "", "from 1 to 100")]
    [TestCase("80", "ftp://hooks.acme.test/kit", "http:// or https://")]
    [TestCase("80", "javascript:alert(1)", "http:// or https://")]
    [TestCase("80", "hooks.acme.test/kit", "http:// or https://")]
    public async Task Bad_alert_settings_are_refused_and_nothing_is_stored(string threshold, string url, string message)
    {
        using var response = await SaveAlertsAsync(Admin, threshold, url);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain(message));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM alert_settings"), Is.Zero);
    }

    [Test]
    public async Task Only_owners_and_admins_change_alert_settings()
    {
        await AddMemberAsync(Org, "manager@acme.test", canManageLicenses: true);
        var manager = await SignedInAsync("manager@acme.test");
        using var response = await manager.PostFormAsync(Settings + "?handler=Alerts", new Dictionary<string, string> { ["threshold"] = "50" }, tokenPage: $"/Organizations/{Org}/Usage");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM alert_settings"), Is.Zero);
    }
}
