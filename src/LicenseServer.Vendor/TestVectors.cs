using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LicenseServer.Client;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Core.Licenses;

namespace LicenseServer.Vendor;

/// <summary>
/// The files a client implementation is tested against (clients/test-vectors): a vendor key, a .lic, leases, offline
/// licenses and floating grants, each with the verdict a client must reach and, when it refuses, its code; tampered
/// variants among them; and machine-ID inputs with the IDs they give. Everything comes from fixed seeds and times,
/// so the same files are written every time.
/// </summary>
public static class TestVectors
{
    /// <summary>The moment every case is verified at, unless the case gives its own.</summary>
    public static readonly DateTimeOffset Now = new(2027, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset LicenseFrom = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LicenseUntil = new(2028, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string InstallationId = "inst-test-vectors";
    private const string Machine = "3F2A9C0D4B7E1A6C5D8E9F0A1B2C3D4E";
    private const string OtherMachine = "0123456789ABCDEF0123456789ABCDEF";

    private static PrivateKey Key(string name) => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("kit test vectors: " + name)));

    private static Guid Id(string name) => new(MD5.HashData(Encoding.UTF8.GetBytes(name)));

    /// <summary>Writes every file into <paramref name="directory"/>; returns the names written.</summary>
    public static IReadOnlyList<string> Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var cases = new JsonArray();
        var vendor = Key("vendor");
        var server = Key("server");
        files["vendor.pub"] = KeyFiles.WritePublic(vendor.PublicKey);

        var lic = License(vendor, server.PublicKey);
        files["server.lic"] = lic;
        Case(cases, "server.lic", "vendor-license", "valid", null, "The vendor's license for the installation, vouching for its server key.");
        files["server-tampered.lic"] = Tamper(lic, payload => payload.Replace("ACME Corp", "ACME Corq"));
        Case(cases, "server-tampered.lic", "vendor-license", "rejected", "bad_signature", "One letter of the customer changed after signing.");
        files["other-vendor.lic"] = License(Key("other vendor"), server.PublicKey);
        Case(cases, "other-vendor.lic", "vendor-license", "rejected", "unknown_signer", "Signed by a vendor key that is not the trusted one.");

        var lease = LeasePayload("lease", Now.AddDays(-1), Now.AddDays(6));
        files["lease.json"] = LeaseFile.Sign(lease, server, lic);
        Case(cases, "lease.json", LeaseFile.FileKind, "valid", null, "A per-user lease of KSE for the machine, 7 days.", Machine);
        Case(cases, "lease.json", LeaseFile.FileKind, "rejected", "other_machine", "The same lease checked on another machine.", OtherMachine);
        Case(cases, "lease.json", LeaseFile.FileKind, "rejected", "expired", "The same lease checked after it ended.", Machine, Now.AddDays(7));
        files["lease-tampered-payload.json"] = Tamper(files["lease.json"], payload => payload.Replace(Machine, OtherMachine));
        Case(cases, "lease-tampered-payload.json", LeaseFile.FileKind, "rejected", "bad_signature", "The machine in the payload changed after signing.", OtherMachine);
        files["lease-relabelled.json"] = Relabel(files["lease.json"], OfflineLicenseFile.FileKind);
        Case(cases, "lease-relabelled.json", OfflineLicenseFile.FileKind, "rejected", "wrong_kind", "A lease whose envelope says it is an offline license.", Machine);
        files["lease-too-long.json"] = LeaseFile.Sign(LeasePayload("lease too long", Now.AddDays(-1), Now.AddDays(29)), server, lic);
        Case(cases, "lease-too-long.json", LeaseFile.FileKind, "rejected", "beyond_vendor_license", "A 30-day lease where the license allows 7.", Machine);
        files["lease-future.json"] = LeaseFile.Sign(LeasePayload("lease future", Now.AddDays(2), Now.AddDays(8)), server, lic);
        Case(cases, "lease-future.json", LeaseFile.FileKind, "rejected", "issued_in_future", "Issued two days after the clock it is checked at.", Machine);
        files["lease-unknown-product.json"] = LeaseFile.Sign(LeasePayload("lease unknown", Now.AddDays(-1), Now.AddDays(6)) with { ProductCode = "KXX" }, server, lic);
        Case(cases, "lease-unknown-product.json", LeaseFile.FileKind, "rejected", "not_in_vendor_license", "A product the license does not hold.", Machine);
        var stranger = Key("other server");
        files["lease-other-server.json"] = LeaseFile.Sign(LeasePayload("lease other server", Now.AddDays(-1), Now.AddDays(6))
            with { ServerPublicKey = stranger.PublicKey.ToBase64() }, stranger, lic);
        Case(cases, "lease-other-server.json", LeaseFile.FileKind, "rejected", "not_vouched", "Signed by a server key the license does not vouch for.", Machine);

        var offline = LeasePayload("offline", Now.AddDays(-10), new DateTimeOffset(2027, 6, 30, 0, 0, 0, TimeSpan.Zero)) with { UserEmail = null };
        files["offline-license.json"] = OfflineLicenseFile.Sign(offline, server, lic);
        Case(cases, "offline-license.json", OfflineLicenseFile.FileKind, "valid", null, "An offline license of KSE for the machine until 2027-06-30.", Machine);
        Case(cases, "offline-license.json", OfflineLicenseFile.FileKind, "rejected", "other_machine", "The same offline license on another machine.", OtherMachine);
        files["offline-license-beyond.json"] = OfflineLicenseFile.Sign(offline with { Id = Id("offline beyond"), ExpiresAt = LicenseUntil.AddDays(30) }, server, lic);
        Case(cases, "offline-license-beyond.json", OfflineLicenseFile.FileKind, "rejected", "beyond_vendor_license", "Runs past the end of the vendor's license.", Machine);

        var grant = new FloatingGrantPayload(FloatingGrantFile.FileKind, Id("grant"), 1, "KRE", ProductKind.Floating, Machine, "4711",
            Now.AddMinutes(-1), Now.AddSeconds(270), InstallationId, server.PublicKey.ToBase64());
        files["grant.json"] = FloatingGrantFile.Sign(grant, server, lic);
        Case(cases, "grant.json", FloatingGrantFile.FileKind, "valid", null, "A floating seat of KRE for process 4711 on the machine, 330 seconds.", Machine);
        files["grant-tampered-signature.json"] = TamperSignature(files["grant.json"]);
        Case(cases, "grant-tampered-signature.json", FloatingGrantFile.FileKind, "rejected", "bad_signature", "One bit of the signature flipped.", Machine);
        files["grant-per-user-product.json"] = FloatingGrantFile.Sign(grant with { SessionId = Id("grant per-user"), ProductCode = "KSE", Kind = ProductKind.PerUser }, server, lic);
        Case(cases, "grant-per-user-product.json", FloatingGrantFile.FileKind, "rejected", "not_in_vendor_license", "A floating grant of a per-user product.", Machine);
        Case(cases, "grant.json", LeaseFile.FileKind, "rejected", "unreadable", "A floating grant presented as a lease.", Machine);

        files["cases.json"] = Json(new JsonObject
        {
            ["vendorKey"] = "vendor.pub",
            ["now"] = Now.ToString("O"),
            ["cases"] = cases,
        });
        files["machine-id.json"] = Json(MachineIds());

        foreach (var (name, text) in files) File.WriteAllText(Path.Combine(directory, name), text);
        return files.Keys.ToList();
    }

    private static string License(PrivateKey vendor, PublicKey serverKey)
    {
        var order = new LicenseOrder("ACME Corp", "C-42", InstallationId, serverKey.ToBase64(), LicenseFrom, LicenseUntil,
        [
            LicenseIssuer.ParseProduct("KSE:per-user:10:annual:Studio Enterprise", LicenseUntil),
            LicenseIssuer.ParseProduct("KRE:floating:5:annual:Runtime Engine", LicenseUntil),
        ]);
        return LicenseIssuer.Issue(order, vendor, LicenseFrom, Id("license")).ToText();
    }

    private static OfflineLicensePayload LeasePayload(string name, DateTimeOffset issuedAt, DateTimeOffset expiresAt) =>
        new(Id(name), "KSE", "Studio Enterprise", ProductKind.PerUser, 1, "ACME QA", Machine, issuedAt, expiresAt, InstallationId,
            Key("server").PublicKey.ToBase64(), "ann@acme.example");

    private static void Case(JsonArray cases, string file, string verifyAs, string verdict, string? code, string what, string? machineId = null, DateTimeOffset? at = null) =>
        cases.Add(new JsonObject
        {
            ["file"] = file,
            ["verifyAs"] = verifyAs,
            ["machineId"] = machineId,
            ["now"] = (at ?? Now).ToString("O"),
            ["verdict"] = verdict,
            ["code"] = code,
            ["what"] = what,
        });

    /// <summary>The envelope with its payload changed and its signature kept.</summary>
    private static string Tamper(string file, Func<string, string> change)
    {
        var envelope = JsonNode.Parse(file)!;
        var payload = Encoding.UTF8.GetString(Convert.FromBase64String(envelope["payload"]!.GetValue<string>()));
        envelope["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(change(payload)));
        return envelope.ToJsonString() + "\n";
    }

    private static string Relabel(string file, string kind)
    {
        var envelope = JsonNode.Parse(file)!;
        envelope["kind"] = kind;
        return envelope.ToJsonString() + "\n";
    }

    private static string TamperSignature(string file)
    {
        var envelope = JsonNode.Parse(file)!;
        var signature = Convert.FromBase64String(envelope["signature"]!.GetValue<string>());
        signature[10] ^= 0x01;
        envelope["signature"] = Convert.ToBase64String(signature);
        return envelope.ToJsonString() + "\n";
    }

    /// <summary>Machine identities and user names as the operating systems give them, with the ID of each.</summary>
    private static JsonArray MachineIds()
    {
        (string Source, string Identity, string User)[] inputs =
        [
            ("Linux /etc/machine-id", "4c4c4544003a3510804ab4c04f4e4e32", "ann"),
            ("Linux /etc/machine-id with its line feed", "4c4c4544003a3510804ab4c04f4e4e32\n", "ann"),
            ("another account on the same machine", "4c4c4544003a3510804ab4c04f4e4e32", "build"),
            ("a user name in capitals", "4c4c4544003a3510804ab4c04f4e4e32", "Ann"),
            ("Windows MachineGuid", "9b0d6e3c-2f4a-4d1e-8c7b-5a6f0e1d2c3b", "Ann.Smith"),
            ("macOS IOPlatformUUID", "564D8E2A-91C3-4B7F-A0D6-3E5F1B2C7A98", "ann"),
            ("a user name beyond ASCII", "564D8E2A-91C3-4B7F-A0D6-3E5F1B2C7A98", "JÖRG"),
            ("the host name, when nothing else is known", "build-agent-07", "runner"),
        ];
        var array = new JsonArray();
        foreach (var (source, identity, user) in inputs)
            array.Add(new JsonObject { ["source"] = source, ["machineIdentity"] = identity, ["userName"] = user, ["machineId"] = MachineId.Compute(identity, user) });
        return array;
    }

    private static string Json(JsonNode node) =>
        node.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
}
