using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LicenseServer.Core.Ldap;

namespace LicenseServer.IntegrationTests.SignIn;

/// <summary>The managed LDAP client against a real OpenLDAP: binds, searches, TLS both ways, and hosts that do not answer.</summary>
public class LdapClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private Slapd _slapd = null!;

    [OneTimeSetUp]
    public async Task StartDirectoryAsync() => _slapd = await Slapd.StartAsync();

    [OneTimeTearDown]
    public void StopDirectory() => _slapd.Stop();

    private LdapEndpoint Plain => new(["127.0.0.1"], _slapd.Port, LdapSecurity.None, null, Timeout);
    private LdapEndpoint Ldaps => new(["127.0.0.1"], _slapd.LdapsPort, LdapSecurity.Ldaps, _slapd.CaPem, Timeout);

    /// <summary>A connection bound as the service account, as the server looks people up.</summary>
    private async Task<LdapConnection> ServiceAsync(LdapEndpoint endpoint)
    {
        var connection = await LdapConnection.OpenAsync(endpoint);
        Assert.That(await connection.BindAsync(_slapd.ServiceDn, _slapd.ServicePassword), Is.True, "service bind");
        return connection;
    }

    private static string Unique(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..6]}";

    [Test]
    public async Task The_service_account_binds_and_a_wrong_password_does_not()
    {
        await using var connection = await LdapConnection.OpenAsync(Plain);
        Assert.That(await connection.BindAsync(_slapd.ServiceDn, "wrong"), Is.False);
        Assert.That(await connection.BindAsync(_slapd.ServiceDn, _slapd.ServicePassword), Is.True);
    }

    [Test]
    public async Task An_empty_password_is_refused_without_asking_the_server()
    {
        // slapd refuses an unauthenticated bind with unwillingToPerform, so a bind sent would throw, not answer false.
        await using (var connection = await LdapConnection.OpenAsync(Plain))
            Assert.That(await connection.BindAsync(_slapd.ServiceDn, ""), Is.False);

        // And a listener that records what it is sent sees only the UnbindRequest of the goodbye.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var accepted = listener.AcceptTcpClientAsync();
            var received = new MemoryStream();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            await using (var connection = await LdapConnection.OpenAsync(Plain with { Port = port }))
            {
                Assert.That(await connection.BindAsync(_slapd.ServiceDn, ""), Is.False);
            }
            using var client = await accepted;
            await client.GetStream().CopyToAsync(received);
            Assert.That(Convert.ToHexString(received.ToArray()), Is.EqualTo("30050201014200"), "one message: ID 1, UnbindRequest");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Test]
    public async Task A_search_by_mail_finds_the_person_and_reads_mail_and_display_name()
    {
        var uid = Unique("ann");
        var dn = await _slapd.AddUserAsync(uid, $"{uid}@corp.example", "ann-password", "Ann Zoë Example");
        await using var connection = await ServiceAsync(Plain);
        var found = await connection.SearchAsync(_slapd.PeopleDn, $"(&(objectClass=inetOrgPerson)(mail={LdapFilter.Escape($"{uid}@corp.example")}))",
            ["mail", "displayName"]);
        Assert.That(found, Has.Count.EqualTo(1));
        Assert.That(found[0].Dn, Is.EqualTo(dn));
        Assert.That(found[0].First("MAIL"), Is.EqualTo($"{uid}@corp.example"), "attribute names are case-insensitive");
        Assert.That(found[0].All("displayName"), Is.EqualTo(new[] { "Ann Zoë Example" }));
        Assert.That(found[0].First("userPassword"), Is.Null, "not asked for");
    }

    [Test]
    public async Task An_escaped_value_matches_only_itself_never_filter_syntax()
    {
        var uid = Unique("odd");
        var odd = @"Odd *)(uid=*) \ Name";
        await _slapd.AddUserAsync(uid, $"{uid}@corp.example", "odd-password", odd);
        await using var connection = await ServiceAsync(Plain);
        foreach (var injected in new[] { "*", ")(", @"\", "*)(uid=*", "*)(|(mail=*" })
        {
            var filter = $"(&(objectClass=inetOrgPerson)(mail={LdapFilter.Escape(injected)}))";
            Assert.That(await connection.SearchAsync(_slapd.BaseDn, filter, ["mail"]), Is.Empty, filter);
        }
        var exact = await connection.SearchAsync(_slapd.BaseDn, $"(displayName={LdapFilter.Escape(odd)})", ["displayName"]);
        Assert.That(exact.Select(e => e.First("displayName")), Is.EqualTo(new[] { odd }));
    }

    [Test]
    public async Task A_locked_person_cannot_bind()
    {
        var uid = Unique("locked");
        var dn = await _slapd.AddUserAsync(uid, $"{uid}@corp.example", "locked-password", "Locked Person");
        await using var connection = await LdapConnection.OpenAsync(Plain);
        Assert.That(await connection.BindAsync(dn, "locked-password"), Is.True, "before the lock");
        await _slapd.LockUserAsync(dn);
        Assert.That(await connection.BindAsync(dn, "locked-password"), Is.False, "after the lock");
    }

    [Test]
    public async Task Anonymous_clients_read_nothing_and_a_missing_base_says_so()
    {
        await using var connection = await LdapConnection.OpenAsync(Plain);
        var anonymous = Assert.ThrowsAsync<LdapException>(() => connection.SearchAsync(_slapd.BaseDn, "(objectClass=*)", []));
        Assert.That(anonymous!.ResultCode, Is.EqualTo(32), "slapd hides the base from those who may not read it");
        Assert.That(anonymous.Message, Does.Contain("does not exist"));
    }

    [Test]
    public async Task A_size_limit_returns_the_entries_that_came_and_a_bad_filter_throws_before_sending()
    {
        await _slapd.AddUserAsync(Unique("limit"), "limit-a@corp.example", "pw-a", "Limit A");
        await _slapd.AddUserAsync(Unique("limit"), "limit-b@corp.example", "pw-b", "Limit B");
        await using var connection = await ServiceAsync(Plain);
        Assert.That(await connection.SearchAsync(_slapd.PeopleDn, "(mail=limit-*)", ["mail"], sizeLimit: 1), Has.Count.EqualTo(1));
        var bad = Assert.ThrowsAsync<LdapException>(() => connection.SearchAsync(_slapd.PeopleDn, "(mail=a", ["mail"]));
        Assert.That(bad!.Message, Does.Contain("unbalanced"));
        Assert.That(await connection.SearchAsync(_slapd.PeopleDn, "(mail=limit-*)", ["mail"]), Has.Count.EqualTo(2), "the connection still works");
    }

    [Test]
    public async Task Ldaps_with_the_directory_CA_binds_and_searches()
    {
        await using var connection = await ServiceAsync(Ldaps);
        Assert.That(await connection.SearchAsync(_slapd.BaseDn, "(ou=people)", ["ou"]), Has.Count.EqualTo(1));
    }

    [Test]
    public void Ldaps_without_trusting_the_CA_is_refused_and_says_why()
    {
        var refused = Assert.ThrowsAsync<LdapUnavailableException>(() => LdapConnection.OpenAsync(Ldaps with { TrustedCaPem = null }));
        Assert.That(refused!.Message, Does.Contain("certificate").And.Contain("not trusted").And.Contain($"127.0.0.1:{_slapd.LdapsPort}"));
    }

    [Test]
    public void Ldaps_to_a_name_the_certificate_does_not_carry_is_refused()
    {
        // The test CA is trusted, but the certificate is made out to 127.0.0.1 and localhost: not to the same
        // address written as IPv6.
        var refused = Assert.ThrowsAsync<LdapUnavailableException>(() => LdapConnection.OpenAsync(Ldaps with { Hosts = ["::ffff:127.0.0.1"] }));
        Assert.That(refused!.Message, Does.Contain("certificate that is not made out to that host name"));
    }

    [Test]
    public async Task StartTls_on_the_plain_port_with_the_directory_CA_binds_and_searches()
    {
        await using var connection = await ServiceAsync(Plain with { Security = LdapSecurity.StartTls, TrustedCaPem = _slapd.CaPem });
        Assert.That(await connection.SearchAsync(_slapd.BaseDn, "(ou=groups)", ["ou"]), Has.Count.EqualTo(1));
    }

    [Test]
    public void A_closed_port_is_unavailable_at_once_and_names_the_host()
    {
        var port = FreePort.Next();
        var watch = Stopwatch.StartNew();
        var refused = Assert.ThrowsAsync<LdapUnavailableException>(() => LdapConnection.OpenAsync(Plain with { Port = port }));
        Assert.That(watch.Elapsed, Is.LessThan(Timeout));
        Assert.That(refused!.Message, Does.Contain($"127.0.0.1:{port}").And.Contain("refused the connection"));
    }

    [Test]
    public async Task A_stopped_directory_is_unavailable()
    {
        var slapd = await Slapd.StartAsync();
        var endpoint = new LdapEndpoint(["127.0.0.1"], slapd.Port, LdapSecurity.None, null, Timeout);
        await (await LdapConnection.OpenAsync(endpoint)).DisposeAsync();
        slapd.Stop();
        Assert.ThrowsAsync<LdapUnavailableException>(() => LdapConnection.OpenAsync(endpoint));
    }

    [Test]
    public async Task A_server_that_never_answers_times_out()
    {
        // The listener's backlog takes the connection, and nothing ever reads or writes it.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var silent = Plain with { Port = ((IPEndPoint)listener.LocalEndpoint).Port, Timeout = TimeSpan.FromMilliseconds(300) };
            var handshake = Assert.ThrowsAsync<LdapUnavailableException>(() => LdapConnection.OpenAsync(silent with { Security = LdapSecurity.Ldaps }));
            Assert.That(handshake!.Message, Does.Contain("did not finish the TLS handshake within 0.3 seconds"));

            await using var connection = await LdapConnection.OpenAsync(silent);
            var bind = Assert.ThrowsAsync<LdapException>(() => connection.BindAsync(_slapd.ServiceDn, _slapd.ServicePassword));
            Assert.That(bind, Is.Not.InstanceOf<LdapUnavailableException>(), "the server was reached");
            Assert.That(bind!.Message, Does.Contain("did not answer within 0.3 seconds"));
            var after = Assert.ThrowsAsync<LdapException>(() => connection.SearchAsync(_slapd.BaseDn, "(ou=people)", []));
            Assert.That(after!.Message, Does.Contain("open a new one"));
        }
        finally
        {
            listener.Stop();
        }
    }

    [Test]
    public async Task The_first_host_that_answers_is_used()
    {
        // Both hosts share the port: nothing listens on 127.0.0.2, where slapd is not bound.
        var endpoint = Ldaps with { Hosts = ["127.0.0.2", "localhost"] };
        await using var connection = await ServiceAsync(endpoint);
        Assert.That(await connection.SearchAsync(_slapd.BaseDn, "(ou=people)", ["ou"]), Has.Count.EqualTo(1));
    }
}
