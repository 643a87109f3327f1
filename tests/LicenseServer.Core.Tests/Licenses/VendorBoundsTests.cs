using System.Text.Json.Nodes;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Core.Tests.Licenses;

/// <summary>
/// The customer holds the server key, so they can sign whatever they like with it. What they sign counts
/// only within the vendor's .lic embedded in the file: its products and kinds, its dates, its limits.
/// </summary>
public class VendorBoundsTests
{
    private static readonly TestClock Clock = TestClock.StoppedAt(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private static readonly PrivateKey Vendor = PrivateKey.Generate();
    private static readonly PrivateKey Server = PrivateKey.Generate();
    private static readonly TrustedVendorKeys VendorOnly = new([Vendor.PublicKey]);

    /// <summary>A .lic for this server: KSE per-user, annual, 300 days from yesterday.</summary>
    private static string VendorLicense(DateTimeOffset? from = null, int days = 300, string product = "KSE:per-user:5:annual") =>
        LicenseIssuer.Issue(new LicenseOrder("ACME", null, "inst-1", Server.PublicKey.ToBase64(), from ?? Clock.Now.AddDays(-1), (from ?? Clock.Now.AddDays(-1)).AddDays(days),
            [LicenseIssuer.ParseProduct(product, (from ?? Clock.Now.AddDays(-1)).AddDays(days))]), Vendor, from ?? Clock.Now.AddDays(-1)).ToText();

    private static OfflineLicensePayload Payload(string product = "KSE", DateTimeOffset? expires = null, DateTimeOffset? issued = null,
        ProductKind kind = ProductKind.PerUser) => new(Guid.NewGuid(), product, "Studio", kind, 7, "ACME QA", "M-1",
        issued ?? Clock.Now, expires ?? Clock.Now.AddDays(7), "inst-1", Server.PublicKey.ToBase64(), "dev@acme.test");

    private static string Code(TestDelegate verify) => Assert.Throws<LicenseRejectedException>(verify)!.Code;

    [Test]
    public void An_offline_license_for_a_product_the_vendor_did_not_license_is_refused()
    {
        var file = OfflineLicenseFile.Sign(Payload("KRE", Clock.Now.AddDays(30)), Server, VendorLicense());
        Assert.That(Code(() => OfflineLicenseFile.Verify(file, VendorOnly, Clock)), Is.EqualTo("not_in_vendor_license"));
    }

    [Test]
    public void An_offline_license_for_a_licensed_product_but_of_another_kind_is_refused()
    {
        var file = OfflineLicenseFile.Sign(Payload(kind: ProductKind.Floating, expires: Clock.Now.AddDays(30)), Server, VendorLicense());
        Assert.That(Code(() => OfflineLicenseFile.Verify(file, VendorOnly, Clock)), Is.EqualTo("not_in_vendor_license"));
    }

    [Test]
    public void An_offline_license_until_2099_is_refused()
    {
        var file = OfflineLicenseFile.Sign(Payload(expires: new DateTimeOffset(2099, 12, 31, 0, 0, 0, TimeSpan.Zero)), Server, VendorLicense());
        Assert.That(Code(() => OfflineLicenseFile.Verify(file, VendorOnly, Clock)), Is.EqualTo("beyond_vendor_license"));
    }

    [Test]
    public void An_offline_license_under_an_expired_vendor_license_is_refused()
    {
        // The .lic ran from 400 to 100 days ago; the offline license says it was issued today and runs for a year.
        var expired = VendorLicense(Clock.Now.AddDays(-400), days: 300);
        var file = OfflineLicenseFile.Sign(Payload(expires: Clock.Now.AddDays(365)), Server, expired);
        Assert.That(Code(() => OfflineLicenseFile.Verify(file, VendorOnly, Clock)), Is.EqualTo("beyond_vendor_license"));
        var backdated = OfflineLicenseFile.Sign(Payload(issued: Clock.Now.AddDays(-200), expires: Clock.Now.AddDays(365)), Server, expired);
        Assert.That(Code(() => OfflineLicenseFile.Verify(backdated, VendorOnly, Clock)), Is.EqualTo("beyond_vendor_license"));
    }

    [Test]
    public void A_lease_longer_than_the_vendor_allows_is_refused()
    {
        var tenYears = LeaseFile.Sign(Payload(expires: Clock.Now.AddDays(3650)), Server, VendorLicense(days: 4000));
        Assert.That(Code(() => LeaseFile.Verify(tenYears, VendorOnly, Clock)), Is.EqualTo("beyond_vendor_license"));
        var eightDays = LeaseFile.Sign(Payload(expires: Clock.Now.AddDays(8)), Server, VendorLicense());
        Assert.That(Code(() => LeaseFile.Verify(eightDays, VendorOnly, Clock)), Is.EqualTo("beyond_vendor_license"));
        var sevenDays = LeaseFile.Sign(Payload(expires: Clock.Now.AddDays(7)), Server, VendorLicense());
        Assert.That(LeaseFile.Verify(sevenDays, VendorOnly, Clock).ProductCode, Is.EqualTo("KSE"));
    }

    [Test]
    public void A_lease_dated_in_the_future_to_stretch_its_days_is_refused()
    {
        var stretched = LeaseFile.Sign(Payload(issued: Clock.Now.AddDays(200), expires: Clock.Now.AddDays(207)), Server, VendorLicense());
        Assert.That(Code(() => LeaseFile.Verify(stretched, VendorOnly, Clock)), Is.EqualTo("issued_in_future"));
    }

    [Test]
    public void A_lease_relabelled_as_an_offline_license_is_refused()
    {
        var lease = LeaseFile.Sign(Payload(), Server, VendorLicense());
        var relabelled = JsonNode.Parse(lease)!;
        relabelled["kind"] = "kit-offline-license";
        Assert.That(Code(() => OfflineLicenseFile.Verify(relabelled.ToJsonString(), VendorOnly, Clock)), Is.EqualTo("wrong_kind"));
        var offline = JsonNode.Parse(OfflineLicenseFile.Sign(Payload(expires: Clock.Now.AddDays(5)), Server, VendorLicense()))!;
        offline["kind"] = "kit-lease";
        Assert.That(Code(() => LeaseFile.Verify(offline.ToJsonString(), VendorOnly, Clock)), Is.EqualTo("wrong_kind"));
    }

    [Test]
    public void An_offline_license_within_the_vendor_license_verifies()
    {
        var file = OfflineLicenseFile.Sign(Payload(expires: Clock.Now.AddDays(299)), Server, VendorLicense());
        Assert.That(OfflineLicenseFile.Verify(file, VendorOnly, Clock, "M-1").ExpiresAt, Is.EqualTo(Clock.Now.AddDays(299)));
    }

    /// <summary>A lease as servers signed it before the kind was part of the payload.</summary>
    private static string LegacyFile(string kind, OfflineLicensePayload payload)
    {
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(payload, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        });
        Assert.That(System.Text.Encoding.UTF8.GetString(bytes), Does.Not.Contain("fileKind"));
        return new JsonObject
        {
            ["kind"] = kind, ["format"] = 1, ["alg"] = "Ed25519", ["payload"] = Convert.ToBase64String(bytes),
            ["signature"] = Convert.ToBase64String(Server.Sign(bytes)), ["vendorLicense"] = VendorLicense(),
        }.ToJsonString();
    }

    [Test]
    public void Leases_and_offline_licenses_signed_before_the_kind_was_signed_verify_until_they_end()
    {
        Assert.That(LeaseFile.Verify(LegacyFile("kit-lease", Payload()), VendorOnly, Clock, "M-1").FileKind, Is.Null);
        Assert.That(OfflineLicenseFile.Verify(LegacyFile("kit-offline-license", Payload(expires: Clock.Now.AddDays(100))), VendorOnly, Clock).ProductCode, Is.EqualTo("KSE"));
        Assert.That(Code(() => LeaseFile.Verify(LegacyFile("kit-lease", Payload(expires: Clock.Now.AddDays(30))), VendorOnly, Clock)), Is.EqualTo("beyond_vendor_license"),
            "the vendor's bounds hold for them too");
    }

    private static readonly string FloatingLicense = LicenseIssuer.Issue(new LicenseOrder("ACME", null, "inst-1", Server.PublicKey.ToBase64(), Clock.Now.AddDays(-1), Clock.Now.AddDays(300),
        [LicenseIssuer.ParseProduct("KRE:floating:5:annual", Clock.Now.AddDays(300)), LicenseIssuer.ParseProduct("KSE:per-user:5:annual", Clock.Now.AddDays(300))]),
        Vendor, Clock.Now.AddDays(-1)).ToText();

    private static FloatingGrantPayload Grant(string product = "KRE", ProductKind kind = ProductKind.Floating, int seconds = 330) =>
        new(FloatingGrantFile.FileKind, Guid.NewGuid(), 7, product, kind, "M-1", "pid-1", Clock.Now, Clock.Now.AddSeconds(seconds), "inst-1", Server.PublicKey.ToBase64());

    [Test]
    public void A_floating_grant_verifies_only_within_the_vendor_license_and_with_the_vendors_key()
    {
        var grant = FloatingGrantFile.Sign(Grant(), Server, FloatingLicense);
        Assert.That(FloatingGrantFile.Verify(grant, VendorOnly, Clock, "M-1").ProcessId, Is.EqualTo("pid-1"));
        Assert.That(Code(() => FloatingGrantFile.Verify(grant, new TrustedVendorKeys([PrivateKey.Generate().PublicKey]), Clock)), Is.EqualTo("unknown_signer"));
        Assert.That(Code(() => FloatingGrantFile.Verify(FloatingGrantFile.Sign(Grant("KSE", ProductKind.PerUser), Server, FloatingLicense), VendorOnly, Clock)),
            Is.EqualTo("not_in_vendor_license"), "a per-user product has no floating seats");
        Assert.That(Code(() => FloatingGrantFile.Verify(FloatingGrantFile.Sign(Grant("KSE", ProductKind.Floating), Server, FloatingLicense), VendorOnly, Clock)),
            Is.EqualTo("not_in_vendor_license"));
        Assert.That(Code(() => FloatingGrantFile.Verify(FloatingGrantFile.Sign(Grant(seconds: 3600), Server, FloatingLicense), VendorOnly, Clock)),
            Is.EqualTo("beyond_vendor_license"));
        Assert.That(Code(() => FloatingGrantFile.Verify(grant, VendorOnly, TestClock.StoppedAt(Clock.Now.AddSeconds(331)))), Is.EqualTo("expired"));
    }

    [Test]
    public void A_lease_is_not_a_floating_grant()
    {
        var lease = JsonNode.Parse(LeaseFile.Sign(Payload("KRE", kind: ProductKind.Floating, expires: Clock.Now.AddMinutes(5)), Server, FloatingLicense))!;
        lease["kind"] = FloatingGrantFile.FileKind;
        Assert.That(Code(() => FloatingGrantFile.Verify(lease.ToJsonString(), VendorOnly, Clock)), Is.AnyOf("wrong_kind", "invalid_payload"));
    }
}
