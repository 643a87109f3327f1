using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;

namespace LicenseServer.Core.Tests.Activation;

public class ProductSpecTests
{
    private static readonly DateTimeOffset End = new(2027, 11, 23, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public void A_product_spec_names_code_kind_quota_subscription_and_name()
    {
        var product = LicenseIssuer.ParseProduct("kse:per-user:10:annual:Studio Enterprise", End);
        Assert.That(product, Is.EqualTo(new LicensedProduct("KSE", "Studio Enterprise", ProductKind.PerUser, 10, SubscriptionKind.Annual, End)));
    }

    [TestCase("KSE")]
    [TestCase("KSE:per-user:10")]
    [TestCase("KSE:seat:10:annual")]
    [TestCase("KSE:per-user:ten:annual")]
    [TestCase("KSE:per-user:0:annual")]
    [TestCase("KSE:per-user:-3:annual")]
    [TestCase("KSE:per-user:10:monthly")]
    [TestCase("K-S:per-user:10:annual")]
    public void A_bad_product_spec_is_refused_with_a_sentence(string spec)
    {
        var e = Assert.Throws<FormatException>(() => LicenseIssuer.ParseProduct(spec, End))!;
        Assert.That(e.Message, Does.EndWith("."));
    }

    [Test]
    public void An_annual_product_needs_an_end_date() =>
        Assert.Throws<FormatException>(() => LicenseIssuer.ParseProduct("KSE:per-user:1:annual", null));

    [Test]
    public void Key_files_round_trip_and_are_not_confused()
    {
        var key = PrivateKey.Generate();
        var privateText = KeyFiles.WritePrivate(key);
        var publicText = KeyFiles.WritePublic(key.PublicKey);

        Assert.That(KeyFiles.ReadPrivate(privateText).PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(KeyFiles.ReadPublic(publicText), Is.EqualTo(key.PublicKey));
        Assert.Throws<FormatException>(() => KeyFiles.ReadPublic(privateText));
        Assert.Throws<FormatException>(() => KeyFiles.ReadPrivate(publicText));
    }

    [Test]
    public void The_built_in_vendor_key_is_embedded() =>
        Assert.That(TrustedVendorKeys.BuiltIn().Id, Has.Length.EqualTo(16));
}
