using System.Text.Json.Nodes;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Vendor;

namespace LicenseServer.Core.Tests.Vendor;

/// <summary>
/// The test vectors in clients/test-vectors: still what kit-vendor test-vectors writes, and every case gets its
/// verdict and code from the .NET client's checks, as it must from any other client's.
/// </summary>
public class TestVectorTests
{
    private static readonly string Committed = Path.Combine(RepoRoot(), "clients", "test-vectors");

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LicenseServer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("LicenseServer.sln was not found above the test folder.");
    }

    private static string Read(string name) => File.ReadAllText(Path.Combine(Committed, name));

    [Test]
    public void The_committed_vectors_are_what_kit_vendor_writes()
    {
        var scratch = Path.Combine(Path.GetTempPath(), "kit-vectors-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var written = TestVectors.Write(scratch);
            var committed = Directory.GetFiles(Committed).Select(Path.GetFileName).Where(n => n != "README.md").Order(StringComparer.Ordinal);
            Assert.That(committed, Is.EqualTo(written), "the same files: rewrite them with kit-vendor test-vectors --out clients/test-vectors");
            foreach (var name in written)
                Assert.That(Read(name), Is.EqualTo(File.ReadAllText(Path.Combine(scratch, name))), $"{name}: rewrite with kit-vendor test-vectors --out clients/test-vectors");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static IEnumerable<TestCaseData> Cases() =>
        JsonNode.Parse(Read("cases.json"))!["cases"]!.AsArray().Select(c => new TestCaseData(
                c!["file"]!.GetValue<string>(), c["verifyAs"]!.GetValue<string>(), c["machineId"]?.GetValue<string>(),
                DateTimeOffset.Parse(c["now"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), c["code"]?.GetValue<string>())
            .SetName($"{c["file"]} as {c["verifyAs"]}{(c["machineId"] is null ? "" : " on " + c["machineId"])} at {c["now"]}: {c["verdict"]} {c["code"]}"));

    [TestCaseSource(nameof(Cases))]
    public void Each_case_gets_its_verdict_and_code_from_the_NET_client(string file, string verifyAs, string? machineId, DateTimeOffset now, string? code)
    {
        var vendorKey = KeyFiles.ReadPublic(Read("vendor.pub"));
        var clock = TestClock.StoppedAt(now);
        var verifier = new KitVerifier(vendorKey, clock);
        var text = Read(file);
        Action verify = verifyAs switch
        {
            "vendor-license" => () => new LicenseVerifier(new TrustedVendorKeys([vendorKey]), clock).VerifySignature(LicenseFile.Parse(text)),
            "kit-lease" => () => verifier.VerifyLease(text, machineId),
            "kit-offline-license" => () => verifier.VerifyOfflineLicense(text, machineId),
            "kit-floating-grant" => () => verifier.VerifyGrant(text, machineId),
            _ => throw new AssertionException($"verifyAs {verifyAs} is not a kind of file"),
        };
        if (code is null) Assert.DoesNotThrow(() => verify());
        else Assert.That(Assert.Throws<LicenseRejectedException>(() => verify())!.Code, Is.EqualTo(code));
    }

    [Test]
    public void Machine_ids_are_the_committed_ones_and_differ_by_account_not_by_case_or_a_trailing_line_feed()
    {
        var entries = JsonNode.Parse(Read("machine-id.json"))!.AsArray()
            .Select(e => (Source: e!["source"]!.GetValue<string>(), Identity: e["machineIdentity"]!.GetValue<string>(), User: e["userName"]!.GetValue<string>(), Id: e["machineId"]!.GetValue<string>()))
            .ToList();
        foreach (var entry in entries)
            Assert.That(MachineId.Compute(entry.Identity, entry.User), Is.EqualTo(entry.Id).And.Match("^[0-9A-F]{32}$"), entry.Source);
        string Of(string source) => entries.Single(e => e.Source == source).Id;
        Assert.That(Of("Linux /etc/machine-id with its line feed"), Is.EqualTo(Of("Linux /etc/machine-id")));
        Assert.That(Of("a user name in capitals"), Is.EqualTo(Of("Linux /etc/machine-id")));
        Assert.That(Of("another account on the same machine"), Is.Not.EqualTo(Of("Linux /etc/machine-id")));
    }

    [Test]
    public void The_Mac_platform_UUID_is_read_from_ioreg()
    {
        const string ioreg = """
            +-o J316sAP  <class IOPlatformExpertDevice, id 0x100000224, registered, matched, active, busy 0 (75 ms), retain 39>
                {
                  "IOPolledInterface" = "AppleARMWatchdogTimerHibernateHandler is not serializable"
                  "IOPlatformSerialNumber" = "C02XK1ABJGH5"
                  "IOPlatformUUID" = "564D8E2A-91C3-4B7F-A0D6-3E5F1B2C7A98"
                  "model" = <"MacBookPro18,1">
                }
            """;
        Assert.That(MachineId.PlatformUuidIn(ioreg), Is.EqualTo("564D8E2A-91C3-4B7F-A0D6-3E5F1B2C7A98"));
        Assert.That(MachineId.PlatformUuidIn("+-o Root  <class IORegistryEntry>"), Is.Null);
    }
}
