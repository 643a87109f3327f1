using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Tampered files: .lic files uploaded over the active license (ActivationTests covers a flipped byte,
/// another vendor, expired, another installation, not yet valid, unreadable and another format on a
/// server not yet activated), and a client lease copied to another machine or edited.
/// </summary>
public sealed class HostileFileTests : SecurityTest
{
    [Test]
    public async Task Each_tampered_license_uploaded_over_the_active_one_is_refused_with_its_own_message_and_changes_nothing()
    {
        var now = DateTimeOffset.UtcNow;
        var good = Encoding.UTF8.GetString(await Server.LicenseAsync());
        var own = PrivateKey.Generate();
        var cases = new (string Name, string File, string Code, string Expected)[]
        {
            ("a stripped signature", Edit(good, e => e.Remove("signature")), "unreadable", "a required field"),
            ("an empty signature", Edit(good, e => e["signature"] = ""), "bad_signature", "signature does not match"),
            ("alg RS256", Edit(good, e => e["alg"] = "RS256"), "unsupported_algorithm", "only Ed25519 signatures are accepted"),
            ("alg none", Edit(good, e => e["alg"] = "none"), "unsupported_algorithm", "\"none\""),
            ("a key of its own inside", Edit(Encoding.UTF8.GetString(await Server.LicenseAsync(key: own)), e => e["publicKey"] = KeyFiles.WritePublic(own.PublicKey)),
                "unknown_signer", "a key this server does not trust"),
            ("a key of its own inside, claiming the vendor's key id", Edit(Encoding.UTF8.GetString(await Server.LicenseAsync(key: own)), e =>
            {
                e["publicKey"] = KeyFiles.WritePublic(own.PublicKey);
                e["keyId"] = TestServer.Vendor.PublicKey.Id;
            }), "bad_signature", "signature does not match"),
            ("a changed expiry", EditPayload(good, p => p["validUntil"] = now.AddYears(10).ToString("O")), "bad_signature", "signature does not match"),
            ("more seats", EditPayload(good, p => p["products"]![0]!["quota"] = 1000), "bad_signature", "signature does not match"),
            ("issued tomorrow", Encoding.UTF8.GetString(await Server.LicenseAsync(issuedAt: now.AddDays(1))), "issued_in_future", "later than this server's clock"),
            ("older than the active one", Encoding.UTF8.GetString(await Server.LicenseAsync(o => o with { Customer = "Old Corp" }, issuedAt: now.AddDays(-2))),
                "older_than_current", "before the newest one activated here"),
            ("a NUL in a signed text", Encoding.UTF8.GetString(await Server.LicenseAsync(o => o with { Customer = "Evil\0Corp" })), "invalid_payload", "holds a NUL character"),
        };
        var before = await SnapshotAsync();
        var messages = new HashSet<string>();
        foreach (var (name, file, code, expected) in cases)
        {
            using var response = await Admin.UploadLicenseAsync(Encoding.UTF8.GetBytes(file));
            var html = await MainOf(response);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), name);
            Assert.That(response.Headers.GetValues("X-Kit-Error"), Is.EqualTo(new[] { code }), name);
            Assert.That(html, Does.Contain(expected), name);
            messages.Add(html[html.IndexOf("role=\"alert\"", StringComparison.Ordinal)..][..160]);
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty, "the active license, its products and the history are unchanged");
        Assert.That(await Admin.GetTextAsync("/Activate"), Does.Contain("ACME Corp"));
        Assert.That(messages, Has.Count.GreaterThanOrEqualTo(8), "the refusals say different things");
    }

    [Test]
    public async Task A_lease_copied_to_another_machine_or_edited_fails_offline_verification()
    {
        var org = await CreateOrganizationAsync(Admin, "Lease Corp");
        await AllocateAsync(org, "KSE", 2);
        await AddMemberAsync(org, VictimMember);
        using (var assign = await Admin.PostFormAsync($"/Organizations/{org}/Licenses?product=KSE&handler=Assign", new Dictionary<string, string> { ["emails"] = VictimMember },
                   tokenPage: $"/Organizations/{org}/Licenses?product=KSE"))
            Assert.That(assign.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using var kit = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey, clock: Clock);
        await kit.LoginAsync(VictimMember, Password);
        var lease = (await kit.ActivateAsync(org, "KSE", "PC-1")).LeaseText;
        var verifier = new KitVerifier(TestServer.Vendor.PublicKey);

        Assert.That(verifier.VerifyLease(lease, "PC-1").MachineId, Is.EqualTo("PC-1"), "on its own machine the lease verifies");
        var copied = Assert.Throws<LicenseRejectedException>(() => verifier.VerifyLease(lease, "OTHER-PC"))!;
        Assert.That(copied.Reason, Is.EqualTo(LicenseRejection.OtherMachine));
        var edited = EditPayload(lease, p => p["machineId"] = "OTHER-PC");
        Assert.That(Assert.Throws<LicenseRejectedException>(() => verifier.VerifyLease(edited, "OTHER-PC"))!.Reason, Is.EqualTo(LicenseRejection.BadSignature),
            "rewriting the machine inside breaks the server's signature");
        var longer = EditPayload(lease, p => p["expiresAt"] = DateTimeOffset.UtcNow.AddYears(5).ToString("O"));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => verifier.VerifyLease(longer, "PC-1"))!.Reason, Is.EqualTo(LicenseRejection.BadSignature));
    }

    private static string Edit(string file, Action<JsonObject> change)
    {
        var envelope = JsonNode.Parse(file)!.AsObject();
        change(envelope);
        return envelope.ToJsonString();
    }

    /// <summary>Changes the signed payload and keeps the signature, as someone editing the file by hand would.</summary>
    private static string EditPayload(string file, Action<JsonObject> change) => Edit(file, envelope =>
    {
        var payload = JsonNode.Parse(Convert.FromBase64String(envelope["payload"]!.GetValue<string>()))!.AsObject();
        Assert.That(payload.ToJsonString(), Is.Not.Empty);
        change(payload);
        envelope["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.ToJsonString()));
    });
}
