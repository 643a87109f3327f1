using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;

namespace LicenseServer.IntegrationTests.SignIn;

/// <summary>
/// People sign in with their company directory: a real OpenLDAP (the fixture's slapd) with StartTLS or LDAPS and a test
/// CA. The server binds as them and never keeps their password; a person disabled or removed in the directory loses
/// their tokens within the recheck interval; the default account still signs in while the directory is down.
/// </summary>
public sealed class LdapSignInTests : ConsoleTest
{
    private static Slapd _ldap = null!;
    private const string DirectoryPassword = "directory pass 1";

    // Checks directory accounts every second, so that a test sees a token stop without waiting ten minutes.
    protected override string[] ServerSettings => ["--Kit:Directory:RecheckSeconds=1"];

    [OneTimeSetUp]
    public async Task StartDirectoryAsync() => _ldap = await Slapd.StartAsync();

    [OneTimeTearDown]
    public void StopDirectory() => _ldap.Stop();

    private static int _people;

    /// <summary>A new person in the directory (each test its own, the directory is shared by the class).</summary>
    private static async Task<(string Uid, string Email, string Dn)> PersonAsync()
    {
        var uid = $"person{Interlocked.Increment(ref _people)}";
        var email = $"{uid}@corp.example";
        return (uid, email, await _ldap.AddUserAsync(uid, email, DirectoryPassword, $"Person {uid}"));
    }

    private async Task ConfigureAsync(string security = "starttls", int? port = null, string? ca = null, string userFilter = "(&(objectClass=inetOrgPerson)(mail={0}))",
        string? bindPassword = null, HttpStatusCode expect = HttpStatusCode.Redirect)
    {
        using var response = await Admin.PostFormAsync("/Admin/Directory?handler=Ldap", new Dictionary<string, string>
        {
            ["enabled"] = "true", ["hosts"] = "127.0.0.1", ["port"] = $"{port ?? _ldap.Port}", ["security"] = security, ["caCertificate"] = ca ?? _ldap.CaPem,
            ["bindDn"] = _ldap.ServiceDn, ["bindPassword"] = bindPassword ?? _ldap.ServicePassword, ["searchBase"] = _ldap.BaseDn, ["userFilter"] = userFilter,
            ["emailAttribute"] = "mail", ["nameAttribute"] = "displayName", ["groupFilter"] = "(&(objectClass=groupOfNames)(member={0}))",
        });
        Assert.That(response.StatusCode, Is.EqualTo(expect), await ConsoleClient.TextOf(response));
    }

    private async Task<HttpResponseMessage> ApiLoginAsync(string login, string password)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        return await http.PostAsJsonAsync("/api/v1/auth/login", new { email = login, password });
    }

    private async Task<string> TokenAsync(string login, string password = DirectoryPassword)
    {
        using var response = await ApiLoginAsync(login, password);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    private async Task<HttpStatusCode> OrganizationsWithAsync(string token)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using var response = await http.GetAsync("/api/v1/organizations");
        return response.StatusCode;
    }

    [Test]
    public async Task A_person_signs_in_with_the_directory_password_their_account_is_made_and_the_audit_names_the_directory()
    {
        var (_, email, dn) = await PersonAsync();
        await ConfigureAsync();
        var person = await SignedInAsync(email, DirectoryPassword);
        Assert.That(await person.GetTextAsync("/"), Does.Contain(email));

        await using var db = Db();
        var account = await db.QuerySingleAsync<(string Source, string ExternalId, string? Password, string DisplayName)>("""
            SELECT l.source, l.external_id, u.password, u.display_name FROM public.user_account u JOIN directory_link l ON l.user_id = u.id WHERE u.email = @email
            """, new { email });
        Assert.That(account, Is.EqualTo(("ldap", dn, (string?)null, $"Person {email.Split('@')[0]}")), "linked to the entry; no password kept");
        Assert.That(await db.QuerySingleAsync<long>("SELECT count(*) FROM organization_member m JOIN public.user_account u ON u.id = m.user_id WHERE u.email = @email", new { email }),
            Is.Zero, "a member of no organization until invited or mapped");
        var audit = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Audit?action=account."));
        Assert.That(audit, Does.Contain("account.signed_in").And.Contain("through the directory (LDAP)"));

        // The client API signs in the same way, with a token that works.
        Assert.That(await OrganizationsWithAsync(await TokenAsync(email)), Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task With_an_Active_Directory_style_filter_people_sign_in_with_their_user_name()
    {
        var (uid, email, _) = await PersonAsync();
        await ConfigureAsync(userFilter: "(&(objectClass=inetOrgPerson)(uid={0}))");
        using var response = await ApiLoginAsync(uid.ToUpperInvariant(), DirectoryPassword);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("email").GetString(), Is.EqualTo(email));
        var page = await ConsoleClient.TextOf(await NewClient().GetAsync("/Account/SignIn"));
        Assert.That(page, Does.Contain("Email or user name"));
    }

    [Test]
    public async Task A_wrong_password_an_unknown_person_and_filter_syntax_in_the_name_are_all_refused_alike()
    {
        var (uid, email, _) = await PersonAsync();
        await ConfigureAsync();
        // Each of these, unescaped, would make the filter find the person, whose password is right.
        foreach (var login in new[] { "*", $"{uid}*", "person*@corp.example", $"{email})(mail=*", $"*)(uid={uid}", "\\2a", $"{email}\\" })
        {
            using var injected = await ApiLoginAsync(login, DirectoryPassword);
            Assert.That(injected.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), login);
            Assert.That(await injected.Content.ReadAsStringAsync(), Does.Contain("invalid_credentials"), login);
        }
        using (var wrong = await ApiLoginAsync(email, "not the password")) Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using (var unknown = await ApiLoginAsync("nobody@corp.example", DirectoryPassword)) Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using (var empty = await ApiLoginAsync(email, "")) Assert.That(empty.StatusCode, Is.Not.EqualTo(HttpStatusCode.OK), "an empty password is an anonymous bind");
        using var console = await NewClient().SignInAsync(email, "not the password");
        Assert.That(await ConsoleClient.TextOf(console), Does.Contain("The email or password is not correct."));
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<long>("SELECT count(*) FROM directory_link"), Is.Zero, "no account was made");
        var audit = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Audit?action=account.sign_in_failed"));
        Assert.That(audit, Does.Contain("wrong directory password").And.Contain("not found in the directory"));
    }

    [Test]
    public async Task A_person_disabled_or_removed_in_the_directory_is_refused_and_their_tokens_stop_within_the_recheck_interval()
    {
        var (_, locked, lockedDn) = await PersonAsync();
        var (_, removed, removedDn) = await PersonAsync();
        await ConfigureAsync();
        var lockedToken = await TokenAsync(locked);
        var removedToken = await TokenAsync(removed);
        var lockedConsole = await SignedInAsync(locked, DirectoryPassword);

        await _ldap.LockUserAsync(lockedDn);
        await _ldap.DeleteAsync(removedDn);
        using (var refused = await ApiLoginAsync(locked, DirectoryPassword)) Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && (await OrganizationsWithAsync(lockedToken) == HttpStatusCode.OK || await OrganizationsWithAsync(removedToken) == HttpStatusCode.OK))
            await Task.Delay(250);
        Assert.That(await OrganizationsWithAsync(lockedToken), Is.EqualTo(HttpStatusCode.Unauthorized), "the locked person's token stopped");
        Assert.That(await OrganizationsWithAsync(removedToken), Is.EqualTo(HttpStatusCode.Unauthorized), "the removed person's token stopped");
        using (var console = await lockedConsole.GetAsync("/")) Assert.That(console.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "their console session ended");
        var audit = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Audit?action=user.disabled"));
        Assert.That(audit, Does.Contain("by the directory: the entry is disabled in the directory").And.Contain("by the directory: the entry is no longer in the directory"));
    }

    [Test]
    public async Task A_directory_lock_lifted_enables_the_account_again_but_an_admins_disabling_stays()
    {
        var (_, email, dn) = await PersonAsync();
        await ConfigureAsync();
        await TokenAsync(email);
        await _ldap.LockUserAsync(dn);
        await using var db = Db();
        const string Disabled = "SELECT disabled FROM public.user_account WHERE email = @email";
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && !await db.QuerySingleAsync<bool>(Disabled, new { email })) await Task.Delay(250);
        Assert.That(await db.QuerySingleAsync<bool>(Disabled, new { email }), Is.True, "the directory's lock disabled the account");

        await _ldap.UnlockUserAsync(dn);
        await TokenAsync(email);
        Assert.That(await db.QuerySingleAsync<bool>(Disabled, new { email }), Is.False, "the directory enabled it again at the next sign-in");

        var userId = await db.QuerySingleAsync<long>("SELECT id FROM public.user_account WHERE email = @email", new { email });
        using (var disable = await Admin.PostFormAsync("/Admin/Users?handler=Disable", new Dictionary<string, string> { ["userId"] = $"{userId}", ["confirmed"] = "true" }, tokenPage: "/Admin/Users"))
            Assert.That(disable.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(disable));
        using var refused = await ApiLoginAsync(email, DirectoryPassword);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "an admin's disabling is not the directory's to lift");
    }

    [Test]
    public async Task A_local_account_of_the_same_email_becomes_the_directory_persons_and_its_password_stops_working()
    {
        await CreateUserAsync("local1@corp.example");
        var dn = await _ldap.AddUserAsync("local1", "local1@corp.example", DirectoryPassword, "Local One");
        await ConfigureAsync();
        using (var local = await ApiLoginAsync("local1@corp.example", Password)) Assert.That(local.StatusCode, Is.EqualTo(HttpStatusCode.OK), "before: the local password");
        await TokenAsync("local1@corp.example");
        using (var local = await ApiLoginAsync("local1@corp.example", Password))
            Assert.That(local.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "after: the directory decides, not a password of this server");
        await using var db = Db();
        Assert.That(await db.QuerySingleAsync<string>("SELECT l.external_id FROM directory_link l JOIN public.user_account u ON u.id = l.user_id WHERE u.email = 'local1@corp.example'"),
            Is.EqualTo(dn));

        // Another entry carrying the same mail cannot take the account over, nor can one carrying a server admin's.
        var twin = await _ldap.AddUserAsync("local1twin", "local1@corp.example", "twin password 1", "Twin");
        await ConfigureAsync(userFilter: "(&(objectClass=inetOrgPerson)(uid={0}))");
        using (var taken = await ApiLoginAsync("local1twin", "twin password 1")) Assert.That(taken.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), twin);
        await _ldap.AddUserAsync("rogueadmin", AdminEmail, "rogue password 1", "Rogue");
        using (var admin = await ApiLoginAsync("rogueadmin", "rogue password 1")) Assert.That(admin.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await db.QuerySingleAsync<long>("SELECT count(*) FROM directory_link l JOIN public.user_account u ON u.id = l.user_id WHERE u.is_server_admin"), Is.Zero);
        var audit = await ConsoleClient.TextOf(await Admin.GetAsync("/Admin/Audit?action=account.sign_in_failed"));
        Assert.That(audit, Does.Contain("another directory entry signs in to the account of this email").And.Contain("a server admin's account signs in with its password of this server"));
    }

    [Test]
    public async Task A_group_mapping_gives_a_place_at_sign_in_and_takes_it_when_the_person_left_the_group()
    {
        var (_, email, dn) = await PersonAsync();
        var group = await _ldap.AddGroupAsync($"engineering-{email.Split('@')[0]}", dn);
        var organization = await CreateOrganizationAsync(Admin, "Engineering");
        await ConfigureAsync();
        using (var added = await Admin.PostFormAsync("/Admin/Directory?handler=AddMapping", new Dictionary<string, string>
               { ["source"] = "ldap", ["group"] = group.ToUpperInvariant(), ["organizationId"] = $"{organization}", ["role"] = "admin" }))
            Assert.That(added.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(added));

        await TokenAsync(email);
        await using var db = Db();
        const string Role = "SELECT m.role FROM organization_member m JOIN public.user_account u ON u.id = m.user_id WHERE u.email = @email AND m.organization_id = @organization";
        Assert.That(await db.QuerySingleOrDefaultAsync<string>(Role, new { email, organization }), Is.EqualTo("admin"), "the group's DN matched, whatever its case");

        await _ldap.DeleteAsync(group);
        await TokenAsync(email);
        Assert.That(await db.QuerySingleOrDefaultAsync<string>(Role, new { email, organization }), Is.Null, "out of the group, out of the organization");
        var audit = await ConsoleClient.TextOf(await Admin.GetAsync($"/Organizations/{organization}/Audit"));
        Assert.That(audit, Does.Contain("member.joined").And.Contain("through the directory group").And.Contain("member.removed"));
    }

    [Test]
    public async Task LDAPS_is_trusted_only_with_the_CA_given_and_the_test_button_says_what_it_found()
    {
        var (uid, email, dn) = await PersonAsync();
        await ConfigureAsync(security: "ldaps", port: _ldap.LdapsPort);
        using (var test = await Admin.PostFormAsync("/Admin/Directory?handler=TestLdap", new Dictionary<string, string> { ["testLogin"] = email }))
            Assert.That(await ConsoleClient.TextOf(test), Does.Contain($"Found {dn}: email {email}, name Person {uid}, enabled"));
        Assert.That(await OrganizationsWithAsync(await TokenAsync(email)), Is.EqualTo(HttpStatusCode.OK));

        // Another CA: the directory's certificate is not trusted, nothing is sent to it.
        using var otherCa = System.Security.Cryptography.ECDsa.Create();
        var other = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Other CA", otherCa, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        await ConfigureAsync(security: "ldaps", port: _ldap.LdapsPort, ca: other.ExportCertificatePem());
        using (var test = await Admin.PostFormAsync("/Admin/Directory?handler=TestLdap", new Dictionary<string, string> { ["testLogin"] = email }))
        {
            Assert.That(test.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(test), Does.Contain("certificate"));
        }
        using var refused = await ApiLoginAsync(email, DirectoryPassword);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain("directory_unavailable"));
    }

    [Test]
    public async Task While_the_directory_is_down_the_default_account_signs_in_and_directory_people_are_told_why_they_cannot()
    {
        var (_, email, _) = await PersonAsync();
        await ConfigureAsync(port: FreePort.Next());
        Assert.That((await SignedInAsync(AdminEmail)).Cookies.Count, Is.GreaterThan(0), "the local server admin signs in");
        using var console = await NewClient().SignInAsync(email, DirectoryPassword);
        Assert.That(console.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await ConsoleClient.TextOf(console), Does.Contain("The company directory cannot be reached"));
        using var api = await ApiLoginAsync(email, DirectoryPassword);
        Assert.That(api.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await api.Content.ReadAsStringAsync(), Does.Contain("directory_unavailable"));
    }

    [Test]
    public async Task Local_passwords_can_be_turned_off_for_everyone_but_server_admins_once_a_directory_is_set()
    {
        await CreateUserAsync("local@acme.test");
        using (var early = await Admin.PostFormAsync("/Admin/Directory?handler=LocalPasswords", new Dictionary<string, string> { ["localPasswords"] = "server_admins" }))
            Assert.That(await ConsoleClient.TextOf(early), Does.Contain("Turn on a directory or an OpenID provider first"));
        var (_, email, _) = await PersonAsync();
        await ConfigureAsync();
        using (var off = await Admin.PostFormAsync("/Admin/Directory?handler=LocalPasswords", new Dictionary<string, string> { ["localPasswords"] = "server_admins" }))
            Assert.That(off.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        using var local = await ApiLoginAsync("local@acme.test", Password);
        Assert.That(local.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await local.Content.ReadAsStringAsync(), Does.Contain("password_sign_in_off"));
        using (var wrong = await ApiLoginAsync("local@acme.test", "a wrong one")) Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "no hint without the password");
        await SignedInAsync(AdminEmail);
        await TokenAsync(email);
    }

    [Test]
    public async Task The_settings_refuse_plain_LDAP_over_the_network_and_keep_the_bind_password_encrypted()
    {
        using (var plain = await Admin.PostFormAsync("/Admin/Directory?handler=Ldap", new Dictionary<string, string>
               {
                   ["enabled"] = "true", ["hosts"] = "dc1.corp.example", ["port"] = "389", ["security"] = "none", ["bindDn"] = _ldap.ServiceDn,
                   ["bindPassword"] = "x", ["searchBase"] = _ldap.BaseDn, ["userFilter"] = "(mail={0})", ["emailAttribute"] = "mail", ["nameAttribute"] = "cn",
               }))
        {
            Assert.That(plain.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(plain), Does.Contain("in clear text"));
        }
        await ConfigureAsync(userFilter: "(&(objectClass=person)(mail=x)", expect: HttpStatusCode.BadRequest);
        await ConfigureAsync();
        // The stored password goes nowhere new without being typed again.
        using (var moved = await Admin.PostFormAsync("/Admin/Directory?handler=Ldap", new Dictionary<string, string>
               {
                   ["enabled"] = "true", ["hosts"] = "ldap.evil.test", ["port"] = "636", ["security"] = "ldaps", ["bindDn"] = _ldap.ServiceDn,
                   ["searchBase"] = _ldap.BaseDn, ["userFilter"] = "(mail={0})", ["emailAttribute"] = "mail", ["nameAttribute"] = "cn",
               }))
            Assert.That(await ConsoleClient.TextOf(moved), Does.Contain("Enter the bind password again"));
        await using var db = Db();
        var stored = await db.QuerySingleAsync<string>("SELECT ldap_bind_password_protected FROM directory_settings");
        Assert.That(stored, Does.Not.Contain(_ldap.ServicePassword));
        Assert.That(await Admin.GetTextAsync("/Admin/Directory"), Does.Not.Contain(_ldap.ServicePassword));
    }
}
