using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Vendor;

namespace LicenseServer.Core.Tests.Vendor;

public class VendorToolTests
{
    private static readonly TestClock Clock = TestClock.StoppedAt(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private string _dir = null!;

    [SetUp]
    public void MakeFolder() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "kit-vendor-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = VendorTool.Run(args, output, error, Clock);
        return (code, output.ToString(), error.ToString());
    }

    private string P(string name) => Path.Combine(_dir, name);

    [Test]
    public void Keygen_issue_from_a_request_and_verify()
    {
        Assert.That(Run("keygen", "--out", P("vendor")).Code, Is.Zero);
        var server = PrivateKey.Generate();
        var request = LicenseRequest.Create("C-1", new InstallationIdentity("inst-9", server.PublicKey.ToBase64()), "0.1.0", Clock.Now);
        File.WriteAllText(P("request.json"), request.ToText());

        var issued = Run("issue", "--key", P("vendor.key"), "--request", P("request.json"), "--customer", "ACME",
            "--product", "KSE:per-user:10:annual", "--product", "KRE:floating:3:perpetual", "--days", "365", "--out", P("acme.lic"));
        Assert.That(issued.Code, Is.Zero, issued.Err);

        var verified = Run("verify", "--pub", P("vendor.pub"), P("acme.lic"));
        Assert.That(verified.Code, Is.Zero, verified.Err);
        Assert.That(verified.Out, Does.Contain("VALID").And.Contain("inst-9").And.Contain("KSE").And.Contain("KRE"));

        var payload = new LicenseVerifier(new TrustedVendorKeys([KeyFiles.ReadPublic(File.ReadAllText(P("vendor.pub")))]), Clock)
            .Verify(File.ReadAllBytes(P("acme.lic")), new InstallationIdentity("inst-9", server.PublicKey.ToBase64()));
        Assert.That(payload.CompanyId, Is.EqualTo("C-1"));
        Assert.That(payload.ServerPublicKey, Is.EqualTo(server.PublicKey.ToBase64()));
    }

    [Test]
    public void Verify_reports_a_tampered_file_and_fails()
    {
        Run("keygen", "--out", P("vendor"));
        Run("issue", "--key", P("vendor.key"), "--customer", "ACME", "--product", "KSE:per-user:10:perpetual", "--out", P("a.lic"));
        var text = File.ReadAllText(P("a.lic"));
        var at = text.IndexOf("\"payload\": \"", StringComparison.Ordinal) + 15;
        File.WriteAllText(P("a.lic"), text[..at] + (text[at] == 'A' ? 'B' : 'A') + text[(at + 1)..]);

        var verified = Run("verify", "--pub", P("vendor.pub"), P("a.lic"));
        Assert.That(verified.Code, Is.EqualTo(1));
        Assert.That(verified.Err, Does.Contain("bad_signature"));
    }

    [Test]
    public void Keygen_never_overwrites_a_vendor_key()
    {
        Run("keygen", "--out", P("vendor"));
        var before = File.ReadAllText(P("vendor.key"));
        Assert.That(Run("keygen", "--out", P("vendor")).Code, Is.EqualTo(1));
        Assert.That(File.ReadAllText(P("vendor.key")), Is.EqualTo(before));
    }

    [Test]
    public void Issue_without_products_explains_usage() =>
        Assert.That(Run("issue", "--key", P("none.key"), "--customer", "x", "--out", P("x.lic")).Code, Is.Not.Zero);

    [Test]
    public void An_annual_product_without_an_end_date_is_refused()
    {
        Run("keygen", "--out", P("vendor"));
        var result = Run("issue", "--key", P("vendor.key"), "--customer", "ACME", "--product", "KSE:per-user:10:annual", "--out", P("a.lic"));
        Assert.That(result.Code, Is.EqualTo(1));
        Assert.That(result.Err, Does.Contain("end date"));
        Assert.That(File.Exists(P("a.lic")), Is.False);
    }

    [Test]
    public void Issue_signs_license_wide_and_per_product_limits_and_verify_prints_them()
    {
        Run("keygen", "--out", P("vendor"));
        var issued = Run("issue", "--key", P("vendor.key"), "--customer", "ACME", "--product", "KSE:per-user:10:perpetual", "--product", "KRE:floating:3:perpetual",
            "--lease-days", "5", "--churn-window-days", "60", "--session-lease-seconds", "120", "--limit", "KSE.leaseDays=3", "--limit", "kse.machinesPerUser=1",
            "--out", P("a.lic"));
        Assert.That(issued.Code, Is.Zero, issued.Err);

        var payload = LicenseVerifier.ReadStored(File.ReadAllText(P("a.lic")));
        Assert.That(payload.Limits, Is.EqualTo(new VendorLimits(LeaseDays: 5, ChurnWindowDays: 60, SessionLeaseSeconds: 120)));
        Assert.That(payload.Product("KSE")!.Limits, Is.EqualTo(new VendorLimits(LeaseDays: 3, MachinesPerUser: 1)));
        Assert.That(payload.Product("KRE")!.Limits, Is.Null);

        var verified = Run("verify", "--pub", P("vendor.pub"), P("a.lic"));
        Assert.That(verified.Code, Is.Zero, verified.Err);
        Assert.That(verified.Out, Does.Contain("limits: lease 3 days, 1 machine per user, 10 activations in 60 days")
            .And.Contain("limits: session lease 120 seconds"));
    }

    [Test]
    public void Verify_prints_the_default_limits_of_a_license_without_any()
    {
        Run("keygen", "--out", P("vendor"));
        Run("issue", "--key", P("vendor.key"), "--customer", "ACME", "--product", "KSE:per-user:10:perpetual", "--out", P("a.lic"));
        Assert.That(Run("verify", "--pub", P("vendor.pub"), P("a.lic")).Out, Does.Contain("limits: lease 7 days, 2 machines per user, 10 activations in 30 days"));
    }

    [TestCase("--limit", "KRE.leaseDays=3", "the license has no product KRE; give it with --product first, or use one of KSE.")]
    [TestCase("--limit", "KSE.leaseWeeks=3", "there is no limit \"leaseWeeks\"")]
    [TestCase("--lease-days", "0", "--lease-days 0: \"0\" is not a valid leaseDays; give a whole number of days from 1 to 3650.")]
    [TestCase("--machines-per-user", "many", "is not a valid machinesPerUser")]
    [TestCase("--session-lease-seconds", "-5", "is not a valid sessionLeaseSeconds")]
    public void A_bad_limit_is_refused_with_a_sentence_and_nothing_is_written(string option, string value, string says)
    {
        Run("keygen", "--out", P("vendor"));
        var result = Run("issue", "--key", P("vendor.key"), "--customer", "ACME", "--product", "KSE:per-user:10:perpetual", option, value, "--out", P("a.lic"));
        Assert.That(result.Code, Is.Not.Zero);
        Assert.That(result.Err, Does.Contain(says));
        Assert.That(File.Exists(P("a.lic")), Is.False);
    }

    [Test]
    public void A_limit_given_twice_is_refused()
    {
        Run("keygen", "--out", P("vendor"));
        var result = Run("issue", "--key", P("vendor.key"), "--customer", "ACME", "--product", "KSE:per-user:10:perpetual",
            "--limit", "KSE.leaseDays=3", "--limit", "KSE.leaseDays=4", "--out", P("a.lic"));
        Assert.That(result.Code, Is.EqualTo(1));
        Assert.That(result.Err, Does.Contain("leaseDays is given twice"));
    }
}
