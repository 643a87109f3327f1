using System.Text;
using System.Text.Json.Nodes;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Core.Tests.Licenses;

/// <summary>Leases and offline licenses verified with the vendor key alone, each failure with its own message.</summary>
public class ServerSignedFileTests
{
    private static readonly TestClock Clock = TestClock.StoppedAt(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private static readonly PrivateKey Vendor = PrivateKey.Generate();
    private static readonly PrivateKey Server = PrivateKey.Generate();
    private static readonly TrustedVendorKeys VendorOnly = new([Vendor.PublicKey]);

    private static string VendorLicense(PrivateKey? vouchedFor, string installation = "inst-1") => LicenseIssuer.Issue(
        new LicenseOrder("ACME", null, vouchedFor is null ? null : installation, vouchedFor?.PublicKey.ToBase64(), Clock.Now.AddDays(-1), Clock.Now.AddDays(300),
            [LicenseIssuer.ParseProduct("KSE:per-user:5:annual", Clock.Now.AddDays(300))]), Vendor, Clock.Now.AddDays(-1)).ToText();

    private static OfflineLicensePayload Payload(PrivateKey server) => new(Guid.NewGuid(), "KSE", "Studio", ProductKind.PerUser, 7, "ACME QA", "M-1",
        Clock.Now, Clock.Now.AddDays(7), "inst-1", server.PublicKey.ToBase64(), "dev@acme.test");

    private static LicenseRejectedException Fails(string text) =>
        Assert.Throws<LicenseRejectedException>(() => LeaseFile.Verify(text, VendorOnly, Clock))!;

    [Test]
    public void A_lease_verifies_with_the_vendor_key_alone()
    {
        var text = LeaseFile.Sign(Payload(Server), Server, VendorLicense(Server));
        Assert.That(LeaseFile.Verify(text, VendorOnly, Clock, "M-1").UserEmail, Is.EqualTo("dev@acme.test"));
    }

    [Test]
    public void A_lease_with_one_byte_changed_fails()
    {
        var text = LeaseFile.Sign(Payload(Server), Server, VendorLicense(Server));
        var json = JsonNode.Parse(text)!;
        var payload = Convert.FromBase64String(json["payload"]!.GetValue<string>());
        payload[payload.Length / 2] ^= 1;
        json["payload"] = Convert.ToBase64String(payload);
        var e = Fails(json.ToJsonString());
        Assert.That(e.Reason, Is.EqualTo(LicenseRejection.BadSignature));
        Assert.That(e.Message, Does.Contain("signature does not match"));
    }

    [Test]
    public void A_lease_signed_by_another_server_key_fails()
    {
        var other = PrivateKey.Generate();
        var text = LeaseFile.Sign(Payload(Server), other, VendorLicense(Server));
        Assert.That(Fails(text).Reason, Is.EqualTo(LicenseRejection.BadSignature));
        var claimsItsOwnKey = Fails(LeaseFile.Sign(Payload(other), other, VendorLicense(Server)));
        Assert.That(claimsItsOwnKey.Reason, Is.EqualTo(LicenseRejection.NotVouched), "a lease from another server names its own key, which the vendor does not vouch for");
    }

    [Test]
    public void A_lease_whose_server_key_is_not_vouched_for_fails()
    {
        var unvouched = Fails(LeaseFile.Sign(Payload(Server), Server, VendorLicense(null)));
        Assert.That(unvouched.Reason, Is.EqualTo(LicenseRejection.NotVouched));
        var vouchesForAnother = Fails(LeaseFile.Sign(Payload(Server), Server, VendorLicense(PrivateKey.Generate())));
        Assert.That(vouchesForAnother.Reason, Is.EqualTo(LicenseRejection.NotVouched));
        var otherInstallation = Fails(LeaseFile.Sign(Payload(Server), Server, VendorLicense(Server, "inst-2")));
        Assert.That(otherInstallation.Reason, Is.EqualTo(LicenseRejection.NotVouched));
        Assert.That(new[] { unvouched.Message, vouchesForAnother.Message, otherInstallation.Message }.Distinct().Count(), Is.EqualTo(3));
    }

    [Test]
    public void A_vendor_proof_signed_by_another_vendor_fails()
    {
        var forgedVendor = LicenseIssuer.Issue(new LicenseOrder("ACME", null, "inst-1", Server.PublicKey.ToBase64(), Clock.Now.AddDays(-1), Clock.Now.AddDays(300),
            [LicenseIssuer.ParseProduct("KSE:per-user:5:annual", Clock.Now.AddDays(300))]), PrivateKey.Generate(), Clock.Now.AddDays(-1)).ToText();
        Assert.That(Fails(LeaseFile.Sign(Payload(Server), Server, forgedVendor)).Reason, Is.EqualTo(LicenseRejection.UnknownSigner));
    }

    [Test]
    public void An_expired_lease_and_one_for_another_machine_fail()
    {
        var text = LeaseFile.Sign(Payload(Server), Server, VendorLicense(Server));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => LeaseFile.Verify(text, VendorOnly, Clock, "M-2"))!.Reason, Is.EqualTo(LicenseRejection.OtherMachine));
        var later = TestClock.StoppedAt(Clock.Now.AddDays(8));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => LeaseFile.Verify(text, VendorOnly, later))!.Reason, Is.EqualTo(LicenseRejection.Expired));
    }

    [Test]
    public void A_lease_is_not_an_offline_license_nor_the_other_way_round()
    {
        var lease = LeaseFile.Sign(Payload(Server), Server, VendorLicense(Server));
        var offline = OfflineLicenseFile.Sign(Payload(Server), Server, VendorLicense(Server));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => OfflineLicenseFile.Verify(lease, VendorOnly, Clock))!.Reason, Is.EqualTo(LicenseRejection.Unreadable));
        Assert.That(Assert.Throws<LicenseRejectedException>(() => LeaseFile.Verify(offline, VendorOnly, Clock))!.Reason, Is.EqualTo(LicenseRejection.Unreadable));
    }
}
