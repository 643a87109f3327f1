using System.Text;
using System.Text.Json.Nodes;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Tests.Activation;

public class LicenseVerifierTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly PrivateKey Vendor = PrivateKey.Generate();
    private static readonly PrivateKey ServerKey = PrivateKey.Generate();
    private static readonly InstallationIdentity Installation = new("inst-1", ServerKey.PublicKey.ToBase64());

    private static LicenseVerifier Verifier(DateTimeOffset? now = null) =>
        new(new TrustedVendorKeys([Vendor.PublicKey]), TestClock.StoppedAt(now ?? Now));

    private static LicenseOrder Order(string? installationId = "inst-1", DateTimeOffset? from = null, DateTimeOffset? until = null) =>
        new("ACME Corp", "C-42", installationId, installationId is null ? null : ServerKey.PublicKey.ToBase64(),
            from ?? Now.AddDays(-1), until ?? Now.AddDays(364),
            [LicenseIssuer.ParseProduct("KSE:per-user:10:annual", until ?? Now.AddDays(364)), LicenseIssuer.ParseProduct("KRE:floating:5:perpetual", null)]);

    private static byte[] Issue(LicenseOrder order, PrivateKey? key = null, DateTimeOffset? issuedAt = null) =>
        Encoding.UTF8.GetBytes(LicenseIssuer.Issue(order, key ?? Vendor, issuedAt ?? Now.AddDays(-1)).ToText());

    private static LicenseRejection Rejection(byte[] file, DateTimeOffset? now = null) =>
        Assert.Throws<LicenseRejectedException>(() => Verifier(now).Verify(file, Installation))!.Reason;

    [Test]
    public void A_license_issued_for_this_installation_verifies_with_its_products()
    {
        var payload = Verifier().Verify(Issue(Order()), Installation);

        Assert.That(payload.Customer, Is.EqualTo("ACME Corp"));
        Assert.That(payload.Products.Select(p => (p.Code, p.Kind, p.Quota)),
            Is.EqualTo(new[] { ("KSE", ProductKind.PerUser, 10), ("KRE", ProductKind.Floating, 5) }));
        Assert.That(payload.Products[0].ExpiresAt, Is.EqualTo(Now.AddDays(364)));
        Assert.That(payload.Products[1].ExpiresAt, Is.Null);
    }

    [Test]
    public void A_license_without_installation_binding_verifies_anywhere() =>
        Assert.That(Verifier().Verify(Issue(Order(installationId: null)), Installation).InstallationId, Is.Null);

    [Test]
    public void Each_changed_byte_of_the_payload_breaks_the_signature()
    {
        var file = LicenseIssuer.Issue(Order(), Vendor, Now.AddDays(-1));
        for (var i = 0; i < file.Payload.Length; i += 7)
        {
            var payload = (byte[])file.Payload.Clone();
            payload[i] ^= 0x01;
            var tampered = Encoding.UTF8.GetBytes((file with { Payload = payload }).ToText());
            Assert.That(Rejection(tampered), Is.EqualTo(LicenseRejection.BadSignature), $"byte {i}");
        }
    }

    [Test]
    public void A_changed_expiry_is_refused_as_a_bad_signature()
    {
        var file = LicenseIssuer.Issue(Order(), Vendor, Now.AddDays(-1));
        var json = JsonNode.Parse(file.Payload)!;
        json["validUntil"] = Now.AddYears(10).ToString("O");
        var changed = file with { Payload = Encoding.UTF8.GetBytes(json.ToJsonString()) };
        Assert.That(Rejection(Encoding.UTF8.GetBytes(changed.ToText())), Is.EqualTo(LicenseRejection.BadSignature));
    }

    [Test]
    public void A_flipped_byte_anywhere_in_the_file_is_refused()
    {
        var bytes = Issue(Order());
        var signatureAt = Encoding.UTF8.GetString(bytes).IndexOf("\"signature\": \"", StringComparison.Ordinal) + 20;
        bytes[signatureAt] = (byte)(bytes[signatureAt] == 'A' ? 'B' : 'A');
        Assert.That(Rejection(bytes), Is.EqualTo(LicenseRejection.BadSignature));
    }

    [Test]
    public void A_license_signed_by_another_key_is_refused_as_another_vendor() =>
        Assert.That(Rejection(Issue(Order(), PrivateKey.Generate())), Is.EqualTo(LicenseRejection.UnknownSigner));

    [Test]
    public void A_license_claiming_the_trusted_key_id_but_signed_by_another_key_is_refused()
    {
        var forged = LicenseIssuer.Issue(Order(), PrivateKey.Generate(), Now) with { KeyId = Vendor.PublicKey.Id };
        Assert.That(Rejection(Encoding.UTF8.GetBytes(forged.ToText())), Is.EqualTo(LicenseRejection.BadSignature));
    }

    [Test]
    public void A_key_carried_inside_the_file_is_never_trusted()
    {
        var attacker = PrivateKey.Generate();
        var file = LicenseIssuer.Issue(Order(), attacker, Now);
        var json = JsonNode.Parse(file.ToText())!;
        json["publicKey"] = attacker.PublicKey.ToBase64();
        Assert.That(Rejection(Encoding.UTF8.GetBytes(json.ToJsonString())), Is.EqualTo(LicenseRejection.UnknownSigner));
    }

    [Test]
    public void An_expired_license_is_refused() =>
        Assert.That(Rejection(Issue(Order(from: Now.AddDays(-400), until: Now.AddDays(-1)), issuedAt: Now.AddDays(-400))),
            Is.EqualTo(LicenseRejection.Expired));

    [Test]
    public void A_license_not_yet_valid_is_refused() =>
        Assert.That(Rejection(Issue(Order(from: Now.AddDays(3), until: Now.AddDays(300)))), Is.EqualTo(LicenseRejection.NotYetValid));

    [Test]
    public void A_license_issued_tomorrow_is_refused_as_clock_tampering() =>
        Assert.That(Rejection(Issue(Order(), issuedAt: Now.AddDays(1))), Is.EqualTo(LicenseRejection.IssuedInFuture));

    [Test]
    public void A_license_issued_within_the_clock_skew_is_accepted() =>
        Assert.DoesNotThrow(() => Verifier().Verify(Issue(Order(from: Now.AddDays(-1)), issuedAt: Now.AddMinutes(4)), Installation));

    [Test]
    public void A_license_for_another_installation_is_refused() =>
        Assert.That(Rejection(Issue(Order(installationId: "inst-2"))), Is.EqualTo(LicenseRejection.OtherInstallation));

    [Test]
    public void A_license_vouching_for_another_server_key_is_refused()
    {
        var order = Order() with { ServerPublicKey = PrivateKey.Generate().PublicKey.ToBase64() };
        Assert.That(Rejection(Issue(order)), Is.EqualTo(LicenseRejection.OtherInstallation));
    }

    [TestCase("")]
    [TestCase("not json at all")]
    [TestCase("{\"kind\":\"something-else\",\"format\":1}")]
    [TestCase("{\"kind\":\"kit-license\",\"format\":1,\"alg\":\"Ed25519\",\"keyId\":\"x\",\"payload\":\"AAAA\"}")]
    [TestCase("{\"kind\":\"kit-license\",\"format\":1,\"alg\":\"Ed25519\",\"keyId\":\"x\",\"payload\":\"%%%\",\"signature\":\"AAAA\"}")]
    public void An_unreadable_file_is_refused(string text) =>
        Assert.That(Rejection(Encoding.UTF8.GetBytes(text)), Is.EqualTo(LicenseRejection.Unreadable));

    [Test]
    public void A_binary_file_is_refused_as_unreadable() =>
        Assert.That(Rejection([0x00, 0xFF, 0xFE, 0x89, 0x50, 0x4E, 0x47]), Is.EqualTo(LicenseRejection.Unreadable));

    [Test]
    public void A_stripped_signature_is_refused()
    {
        var file = LicenseIssuer.Issue(Order(), Vendor, Now) with { Signature = [] };
        Assert.That(Rejection(Encoding.UTF8.GetBytes(file.ToText())), Is.EqualTo(LicenseRejection.BadSignature));
    }

    [Test]
    public void Another_format_version_is_refused()
    {
        var file = LicenseIssuer.Issue(Order(), Vendor, Now) with { Format = 2 };
        Assert.That(Rejection(Encoding.UTF8.GetBytes(file.ToText())), Is.EqualTo(LicenseRejection.UnsupportedFormat));
    }

    [TestCase("RS256")]
    [TestCase("none")]
    [TestCase("ed25519")]
    public void An_algorithm_other_than_Ed25519_is_refused(string alg)
    {
        var file = LicenseIssuer.Issue(Order(), Vendor, Now) with { Alg = alg };
        Assert.That(Rejection(Encoding.UTF8.GetBytes(file.ToText())), Is.EqualTo(LicenseRejection.UnsupportedAlgorithm));
    }

    [Test]
    public void Every_rejection_has_its_own_message()
    {
        var messages = new Dictionary<LicenseRejection, string>();
        void Collect(byte[] file, DateTimeOffset? now = null)
        {
            var e = Assert.Throws<LicenseRejectedException>(() => Verifier(now).Verify(file, Installation))!;
            messages[e.Reason] = e.Message;
        }
        var good = LicenseIssuer.Issue(Order(), Vendor, Now.AddDays(-1));
        Collect(Encoding.UTF8.GetBytes("garbage"));
        Collect(Encoding.UTF8.GetBytes((good with { Format = 9 }).ToText()));
        Collect(Encoding.UTF8.GetBytes((good with { Alg = "HS256" }).ToText()));
        Collect(Issue(Order(), PrivateKey.Generate()));
        Collect(Encoding.UTF8.GetBytes((good with { Signature = new byte[64] }).ToText()));
        Collect(Issue(Order(from: Now.AddDays(5))));
        Collect(Issue(Order(from: Now.AddDays(-10), until: Now.AddDays(-2)), issuedAt: Now.AddDays(-10)));
        Collect(Issue(Order(), issuedAt: Now.AddDays(2)));
        Collect(Issue(Order(installationId: "elsewhere")));

        Assert.That(messages, Has.Count.EqualTo(9));
        Assert.That(messages.Values.Distinct().Count(), Is.EqualTo(9), "each failure needs its own message");
        Assert.That(messages.Values, Has.All.Matches<string>(m => m.EndsWith('.') && m.Length > 40));
    }

    [Test]
    public void A_license_request_round_trips_and_names_the_installation()
    {
        var request = LicenseRequest.Create(" C-42 ", Installation, "1.2.3", Now);
        var parsed = LicenseRequest.Parse(request.ToText());
        Assert.That(parsed, Is.EqualTo(request));
        Assert.That(parsed.CompanyId, Is.EqualTo("C-42"));
    }

    [Test]
    public void A_license_request_with_a_bad_server_key_is_refused()
    {
        var text = LicenseRequest.Create(null, Installation with { ServerPublicKey = "AAAA" }, "1", Now).ToText();
        Assert.Throws<FormatException>(() => LicenseRequest.Parse(text));
    }
}
