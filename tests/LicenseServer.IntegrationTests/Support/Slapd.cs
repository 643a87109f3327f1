using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// A real OpenLDAP server (Debian's slapd and ldap-utils) on free loopback ports, in a throwaway folder: plain LDAP
/// with StartTLS on <see cref="Port"/>, LDAPS on <see cref="LdapsPort"/>, both with a server certificate from a test
/// CA (<see cref="CaPem"/>). Anonymous clients can read nothing; any bound entry can read everything but passwords.
/// The password policy overlay refuses the bind of an entry locked by <see cref="LockUserAsync"/>. The fixture writes
/// with the ldap-utils as the admin; the client under test only ever reads.
/// </summary>
public sealed class Slapd
{
    private const string Suffix = "dc=corp,dc=example", People = "ou=people," + Suffix, Groups = "ou=groups," + Suffix;
    private const string Admin = "cn=admin," + Suffix, AdminSecret = "admin-secret";
    private const string Service = "cn=kit,ou=services," + Suffix, ServiceSecret = "kit-service-secret";

    private const string Schemas = "/etc/ldap/schema";
    private const string Modules = "/usr/lib/ldap";

    private readonly Process _process;
    private readonly string _folder;
    private bool _stopped;

    private Slapd(Process process, string folder, int port, int ldapsPort, string caPem)
    {
        _process = process;
        _folder = folder;
        Port = port;
        LdapsPort = ldapsPort;
        CaPem = caPem;
    }

    public int Port { get; }
    public int LdapsPort { get; }
    /// <summary>The certificate of the CA that issued the server's, as PEM.</summary>
    public string CaPem { get; }
    public string BaseDn => Suffix;
    public string PeopleDn => People;
    public string GroupsDn => Groups;
    public string AdminDn => Admin;
    public string AdminPassword => AdminSecret;
    /// <summary>The account the license server binds with to look people up: not the admin, and it cannot write.</summary>
    public string ServiceDn => Service;
    public string ServicePassword => ServiceSecret;

    public static async Task<Slapd> StartAsync()
    {
        var slapd = Environment.GetEnvironmentVariable("KIT_SLAPD") ?? "/usr/sbin/slapd";
        Assert.That(File.Exists(slapd), $"OpenLDAP's slapd is not installed at {slapd}: run bash tests/prerequisites.sh.");
        var folder = Path.Combine(Path.GetTempPath(), "kit-slapd-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Path.Combine(folder, "data"));
        var caPem = WriteCertificates(folder);
        var config = Path.Combine(folder, "slapd.conf");
        await File.WriteAllTextAsync(config, Config(folder));
        try
        {
            await RunAsync(Path.Combine(Path.GetDirectoryName(slapd)!, "slapadd"), ["-f", config], BaseEntries);
        }
        catch
        {
            System.IO.Directory.Delete(folder, recursive: true);
            throw;
        }

        int port = FreePort.Next(), ldapsPort = FreePort.Next();
        // -d keeps slapd in the foreground, as the process this fixture kills; it runs as the current user.
        var urls = $"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{ldapsPort}/";
        var process = Process.Start(new ProcessStartInfo(slapd, ["-f", config, "-h", urls, "-d", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new Slapd(process, folder, port, ldapsPort, caPem);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Answers(port) || !Answers(ldapsPort))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                server.Stop();
                lock (output) throw new InvalidOperationException($"slapd did not start within 10 seconds: {output}");
            }
            await Task.Delay(20);
        }
        return server;
    }

    /// <summary>Adds an inetOrgPerson under ou=people; returns its DN.</summary>
    public async Task<string> AddUserAsync(string uid, string email, string password, string displayName)
    {
        var dn = $"uid={uid},{People}";
        await LdapAsync("ldapadd", string.Concat(
            Line("dn", dn), Line("objectClass", "inetOrgPerson"), Line("uid", uid), Line("cn", displayName), Line("sn", uid),
            Line("mail", email), Line("displayName", displayName), Line("userPassword", password)));
        return dn;
    }

    /// <summary>Adds a groupOfNames under ou=groups (which needs at least one member); returns its DN.</summary>
    public async Task<string> AddGroupAsync(string cn, params string[] memberDns)
    {
        if (memberDns.Length == 0) throw new ArgumentException("A groupOfNames needs at least one member.", nameof(memberDns));
        var dn = $"cn={cn},{Groups}";
        var members = string.Concat(memberDns.Select(member => Line("member", member)));
        await LdapAsync("ldapadd", Line("dn", dn) + Line("objectClass", "groupOfNames") + Line("cn", cn) + members);
        return dn;
    }

    /// <summary>Locks the entry for good, as an administrator would: the password policy then refuses its bind.</summary>
    public Task LockUserAsync(string dn) =>
        LdapAsync("ldapmodify", Line("dn", dn) + "changetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n");

    /// <summary>Lifts the lock of <see cref="LockUserAsync"/>.</summary>
    public Task UnlockUserAsync(string dn) =>
        LdapAsync("ldapmodify", Line("dn", dn) + "changetype: modify\ndelete: pwdAccountLockedTime\n");

    public Task DeleteAsync(string dn) => LdapAsync("ldapdelete", dn + "\n");

    /// <summary>Kills slapd and deletes its folder: from then on its ports refuse connections.</summary>
    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } // already gone
        _process.WaitForExit(5000);
        _process.Dispose();
        try { System.IO.Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private Task LdapAsync(string tool, string ldif) =>
        RunAsync(tool, ["-x", "-H", $"ldap://127.0.0.1:{Port}", "-D", AdminDn, "-w", AdminPassword], ldif);

    /// <summary>An LDIF line; base64 when the value is not plain ASCII or starts with what LDIF reads otherwise (RFC 2849).</summary>
    private static string Line(string name, string value) =>
        value.All(c => c is >= ' ' and < '\x7f') && !value.StartsWith(' ') && !value.StartsWith(':') && !value.StartsWith('<') && !value.EndsWith(' ')
            ? $"{name}: {value}\n"
            : $"{name}:: {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value))}\n";

    private static string Config(string folder) => $"""
        include {Schemas}/core.schema
        include {Schemas}/cosine.schema
        include {Schemas}/nis.schema
        include {Schemas}/inetorgperson.schema
        modulepath {Modules}
        moduleload back_mdb
        moduleload ppolicy
        pidfile {folder}/slapd.pid
        argsfile {folder}/slapd.args
        TLSCACertificateFile {folder}/ca.pem
        TLSCertificateFile {folder}/server.pem
        TLSCertificateKeyFile {folder}/server.key

        database mdb
        suffix "{Suffix}"
        rootdn "{Admin}"
        rootpw {AdminSecret}
        directory {folder}/data
        maxsize 16777216
        # The default policy must turn lockout on: without it slapd ignores pwdAccountLockedTime.
        overlay ppolicy
        ppolicy_default "cn=default,ou=policies,{Suffix}"
        access to attrs=userPassword
            by anonymous auth
            by * none
        access to *
            by users read
            by * none
        """;

    private const string BaseEntries = $"""
        dn: {Suffix}
        objectClass: dcObject
        objectClass: organization
        o: Corp
        dc: corp

        dn: {People}
        objectClass: organizationalUnit
        ou: people

        dn: {Groups}
        objectClass: organizationalUnit
        ou: groups

        dn: ou=services,{Suffix}
        objectClass: organizationalUnit
        ou: services

        dn: {Service}
        objectClass: applicationProcess
        objectClass: simpleSecurityObject
        cn: kit
        userPassword: {ServiceSecret}

        dn: ou=policies,{Suffix}
        objectClass: organizationalUnit
        ou: policies

        dn: cn=default,ou=policies,{Suffix}
        objectClass: device
        objectClass: pwdPolicy
        cn: default
        pwdAttribute: userPassword
        pwdLockout: TRUE

        """;

    /// <summary>A test CA and a server certificate for 127.0.0.1 and localhost that it issued, as PEM files; returns the CA's PEM.</summary>
    private static string WriteCertificates(string folder)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=kit-test-directory-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        using var server = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));

        var caPem = ca.ExportCertificatePem() + "\n";
        File.WriteAllText(Path.Combine(folder, "ca.pem"), caPem);
        File.WriteAllText(Path.Combine(folder, "server.pem"), server.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(folder, "server.key"), key.ExportPkcs8PrivateKeyPem() + "\n");
        return caPem;
    }

    private static bool Answers(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Runs an OpenLDAP tool with <paramref name="input"/> on its standard input; throws with its output when it fails.</summary>
    private static async Task RunAsync(string tool, string[] arguments, string input)
    {
        var start = new ProcessStartInfo(tool, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["LDAPNOINIT"] = "1"; // ignore the machine's ldap.conf and ~/.ldaprc
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(input.ReplaceLineEndings("\n"));
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(tool)} failed ({process.ExitCode}): {await error}{await output}");
    }
}
