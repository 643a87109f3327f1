using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Licenses;

public class OfflineLicenseTests : LicenseTest
{
    private static readonly TrustedVendorKeys VendorOnly = new([TestServer.Vendor.PublicKey]);

    private Task<HttpResponseMessage> PostAsync(string handler, string machineId, string expiry = "", string product = "KSE") =>
        Admin.PostFormAsync(Page(product) + "&handler=" + handler, new Dictionary<string, string> { ["machineId"] = machineId, ["expiry"] = expiry }, tokenPage: Page(product));

    private async Task<long> OfflineCountAsync()
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT count(*) FROM offline_license");
    }

    private async Task<(string FileName, string Text)> DownloadOnlyAsync()
    {
        await using var db = Db();
        var id = await db.ExecuteScalarAsync<Guid>("SELECT id FROM offline_license");
        using var response = await Admin.GetAsync($"/Organizations/{Org}/Licenses?handler=Download&id={id}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return (response.Content.Headers.ContentDisposition!.FileName!.Trim('"'), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task A_confirmed_offline_license_is_named_for_its_machine_verifies_with_the_vendor_key_alone_and_holds_a_seat()
    {
        using (var draft = await PostAsync("DraftOffline", "WS-1234.abc"))
        {
            var html = await ConsoleClient.TextOf(draft);
            Assert.That(html, Does.Contain("data-testid=\"confirm-offline\"").And.Contain("KSE_WS-1234.abc.lic").And.Contain("cannot be revoked or transferred"));
        }
        Assert.That(await OfflineCountAsync(), Is.Zero, "the first step only asks for confirmation");

        using (var created = await PostAsync("CreateOffline", "WS-1234.abc"))
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(created));
        var (fileName, text) = await DownloadOnlyAsync();
        Assert.That(fileName, Is.EqualTo("KSE_WS-1234.abc.lic"));

        var payload = OfflineLicenseFile.Verify(text, VendorOnly, TimeProvider.System, "WS-1234.abc");
        var productEnd = LicenseVerifier.ReadStored((await Server.Service<LicenseServer.Data.Activation.ServerLicenseRepository>().GetAsync())!.FileText).Products[0].ExpiresAt!.Value;
        Assert.That((payload.ProductCode, payload.MachineId, payload.OrganizationName), Is.EqualTo(("KSE", "WS-1234.abc", "ACME QA")));
        Assert.That(payload.ExpiresAt, Is.EqualTo(productEnd).Within(TimeSpan.FromSeconds(1)), "the default expiry is the end of the subscription");
        Assert.That(Assert.Throws<LicenseRejectedException>(() => OfflineLicenseFile.Verify(text, VendorOnly, TimeProvider.System, "OTHER-MACHINE"))!.Reason,
            Is.EqualTo(LicenseRejection.OtherMachine));

        Assert.That(await Admin.GetTextAsync(Page()), Does.Contain("<td data-testid=\"in-use\">1</td>").And.Contain("KSE_WS-1234.abc.lic"));
    }

    [Test]
    public async Task A_tampered_offline_file_fails_verification_with_the_vendor_key_alone()
    {
        using (await PostAsync("CreateOffline", "WS-1")) { }
        var (_, text) = await DownloadOnlyAsync();

        var json = JsonNode.Parse(text)!;
        var payload = JsonNode.Parse(Convert.FromBase64String(json["payload"]!.GetValue<string>()))!;
        payload["machineId"] = "WS-2";
        payload["expiresAt"] = DateTimeOffset.UtcNow.AddYears(20).ToString("O");
        json["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => OfflineLicenseFile.Verify(json.ToJsonString(), VendorOnly, TimeProvider.System))!.Reason,
            Is.EqualTo(LicenseRejection.BadSignature));

        // A forger with a key of their own, who re-signs the payload, is caught by the vendor's proof.
        var forger = PrivateKey.Generate();
        var forged = OfflineLicenseFile.Sign(OfflineLicenseFile.Verify(text, VendorOnly, TimeProvider.System) with { MachineId = "WS-2" }, forger, JsonNode.Parse(text)!["vendorLicense"]!.GetValue<string>());
        Assert.That(Assert.Throws<LicenseRejectedException>(() => OfflineLicenseFile.Verify(forged, VendorOnly, TimeProvider.System))!.Reason,
            Is.EqualTo(LicenseRejection.BadSignature));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => OfflineLicenseFile.Verify(text, new TrustedVendorKeys([PrivateKey.Generate().PublicKey]), TimeProvider.System))!.Reason,
            Is.EqualTo(LicenseRejection.UnknownSigner), "another vendor's key verifies nothing");
    }

    [Test]
    public async Task Only_annual_subscriptions_become_offline_licenses()
    {
        var now = DateTimeOffset.UtcNow;
        await Server.Service<LicenseServer.Web.Activation.ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with
        {
            Products = [o.Products[0], LicenseIssuer.ParseProduct("KRE:floating:5:perpetual:Runtime Engine", null)],
        }, issuedAt: now));
        using var response = await PostAsync("CreateOffline", "WS-1", product: "KRE");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain("Only annual subscriptions can be converted to an offline license"));
        Assert.That(await OfflineCountAsync(), Is.Zero);
    }

    [Test]
    public async Task The_expiry_cannot_pass_the_subscription_nor_lie_in_the_past_and_bad_machine_ids_are_refused()
    {
        var end = DateTimeOffset.UtcNow.AddDays(365);
        foreach (var (machine, expiry, message) in new[]
        {
            ("WS-1", end.AddDays(2).ToString("yyyy-MM-dd"), "cannot outlive the subscription"),
            ("WS-1", DateTimeOffset.UtcNow.AddDays(-2).ToString("yyyy-MM-dd"), "from today on"),
            ("WS-1", "next tuesday", "yyyy-MM-dd"),
            ("", "", "Enter the user's machine ID"),
            ("../../etc/passwd", "", "only letters, digits"),
            ("WS 1", "", "only letters, digits"),
            (new string('x', 129), "", "at most 128"),
        })
        {
            foreach (var handler in new[] { "DraftOffline", "CreateOffline" })
            {
                using var response = await PostAsync(handler, machine, expiry);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), $"{handler} {machine} {expiry}");
                Assert.That(await ConsoleClient.TextOf(response), Does.Contain(message), $"{handler} {machine} {expiry}");
            }
        }
        Assert.That(await OfflineCountAsync(), Is.Zero);

        var earlier = DateTimeOffset.UtcNow.AddDays(30).ToString("yyyy-MM-dd");
        using (var ok = await PostAsync("CreateOffline", "WS-1", earlier))
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var (_, text) = await DownloadOnlyAsync();
        Assert.That(OfflineLicenseFile.Verify(text, VendorOnly, TimeProvider.System).ExpiresAt.UtcDateTime.ToString("yyyy-MM-dd"), Is.EqualTo(earlier));
    }

    [Test]
    public async Task An_offline_license_holds_its_seat_until_it_expires_and_cannot_be_revoked()
    {
        await AllocateAsync(Org, "KSE", 1);
        using (await PostAsync("CreateOffline", "WS-1")) { }
        var users = await MembersAsync(1);
        using (var full = await AssignAsync(Admin, users[0]))
            Assert.That(await ConsoleClient.TextOf(full), Does.Contain("KSE has 0 of 1 seats left"));
        using (var second = await PostAsync("CreateOffline", "WS-2"))
            Assert.That(await ConsoleClient.TextOf(second), Does.Contain("KSE has 0 of 1 seats left"));

        Guid id;
        await using (var db = Db()) id = await db.ExecuteScalarAsync<Guid>("SELECT id FROM offline_license");
        foreach (var handler in new[] { "Revoke", "RevokeOffline", "DeleteOffline", "Unassign" })
        {
            using var attempt = await Admin.PostFormAsync(Page() + "&handler=" + handler, new Dictionary<string, string> { ["id"] = id.ToString(), ["userId"] = "0" }, tokenPage: Page());
            Assert.That((int)attempt.StatusCode, Is.AnyOf(400, 403, 404, 405), handler);
        }
        Assert.That(await OfflineCountAsync(), Is.EqualTo(1), "an offline license cannot be revoked");
        Assert.That(await Admin.GetTextAsync(Page()), Does.Not.Contain("Revoke"));

        await using (var db = Db()) await db.ExecuteAsync("UPDATE offline_license SET expires_at = now() - interval '1 second'");
        using (var freed = await AssignAsync(Admin, users[0]))
            Assert.That(freed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "an expired offline license frees its seat");
    }

    [Test]
    public async Task Without_a_license_that_vouches_for_the_server_key_no_offline_license_is_made()
    {
        await Server.Service<LicenseServer.Web.Activation.ActivationService>().ActivateAsync(await Server.LicenseAsync(o => o with { InstallationId = null, ServerPublicKey = null }, issuedAt: DateTimeOffset.UtcNow));
        using var response = await PostAsync("CreateOffline", "WS-1");
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain("does not vouch for this server's key"));
        Assert.That(await OfflineCountAsync(), Is.Zero);
    }

    [Test]
    public async Task A_product_stretched_in_the_database_gives_no_offline_license_beyond_the_vendors_license()
    {
        // Whoever runs the server can edit its database; the vendor's .lic in every file is what clients trust.
        await using (var db = Db())
            await db.ExecuteAsync("UPDATE licensed_product SET expires_at = '2098-12-31' WHERE code = 'KSE'");
        await using (var db = Db())
            await db.ExecuteAsync("UPDATE server_license SET valid_until = '2098-12-31'");
        using var response = await PostAsync("CreateOffline", "WS-1", "2098-01-01");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain("after the vendor&#x27;s license ends").Or.Contain("after the vendor's license ends"));
        Assert.That(await OfflineCountAsync(), Is.Zero, "nothing is stored");
    }
}
