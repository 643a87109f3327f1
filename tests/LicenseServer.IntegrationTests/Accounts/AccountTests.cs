using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Commands;
using Npgsql;

namespace LicenseServer.IntegrationTests.Accounts;

public class AccountTests
{
    private const string Email = "admin@acme.test";
    private const string Password = "correct horse";
    private TestServer _server = null!;
    private ConsoleClient _client = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _server = await TestServer.StartAsync();
        await _server.Service<ActivationService>().ActivateAsync(await _server.LicenseAsync());
        await _server.Service<AccountService>().CreateDefaultAccountAsync(Email, Password, Password);
        _client = new ConsoleClient(_server.BaseUrl);
    }

    [TearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(string? Password, bool Encrypted, bool MustChange)> RowAsync(string email)
    {
        await using var connection = new NpgsqlConnection(_server.ConnectionString);
        return await connection.QuerySingleAsync<(string?, bool, bool)>(
            "SELECT password, password_encrypted, must_change_password FROM public.user_account WHERE email = @email", new { email });
    }

    [Test]
    public async Task Passwords_are_stored_as_PBKDF2_hashes_not_plain_text()
    {
        var row = await RowAsync(Email);
        Assert.That(row.Encrypted, Is.True);
        Assert.That(row.Password, Does.Not.Contain(Password));
        // Identity V3 format: 0x01 marker, PRF 2 (HMAC-SHA512), iteration count 210,000 big-endian.
        var bytes = Convert.FromBase64String(row.Password!);
        Assert.That(bytes[0], Is.EqualTo(0x01));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1)), Is.EqualTo(2));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5)), Is.EqualTo(210_000));
    }

    [Test]
    public async Task A_wrong_password_is_refused_and_a_right_one_signs_in_and_out()
    {
        using (var wrong = await _client.SignInAsync(Email, "wrong password"))
        {
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await ConsoleClient.TextOf(wrong), Does.Contain("The email or password is not correct."));
        }
        using (var right = await _client.SignInAsync(Email, Password))
            Assert.That(right.RedirectPath(), Is.EqualTo("/"));
        Assert.That(await _client.GetTextAsync("/"), Does.Contain("Licensed products"));

        using (var signOut = await _client.PostFormAsync("/Account/SignOut", new Dictionary<string, string>(), tokenPage: "/"))
            Assert.That(signOut.RedirectPath(), Does.StartWith("/Account/SignIn"));
        using var after = await _client.GetAsync("/");
        Assert.That(after.RedirectPath(), Does.StartWith("/Account/SignIn"));
    }

    [Test]
    public async Task An_unknown_email_gets_the_same_answer_as_a_wrong_password()
    {
        using var unknown = await _client.SignInAsync("nobody@acme.test", "wrong password");
        using var wrong = await _client.SignInAsync(Email, "wrong password");
        Assert.That(unknown.StatusCode, Is.EqualTo(wrong.StatusCode));
        Assert.That(Between(await ConsoleClient.TextOf(unknown)), Is.EqualTo(Between(await ConsoleClient.TextOf(wrong))));

        static string Between(string html) => html[html.IndexOf("role=\"alert\"", StringComparison.Ordinal)..][..120];
    }

    [Test]
    public async Task Repeated_failures_are_throttled_with_429_for_that_email_only()
    {
        for (var i = 0; i < AccountService.MaxFailures; i++)
        {
            using var failure = await _client.SignInAsync(Email, "wrong password " + i);
            Assert.That(failure.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        }
        using (var throttled = await _client.SignInAsync(Email, Password))
        {
            Assert.That(throttled.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "even the right password waits");
            Assert.That(await ConsoleClient.TextOf(throttled), Does.Contain("Too many failed sign-in attempts"));
            Assert.That(throttled.Headers.RetryAfter, Is.Not.Null);
        }
        using (var unknownThrottled = await _client.SignInAsync("ghost@acme.test", "x"))
            Assert.That(unknownThrottled.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "another email is not throttled by these failures");
    }

    [Test]
    public async Task The_seeds_SQL_fallback_run_with_psql_lets_the_user_sign_in_once_and_rehashes_at_once()
    {
        var builder = new NpgsqlConnectionStringBuilder(_server.ConnectionString);
        const string statement = "UPDATE public.user_account SET password='plain-Secret-1', password_encrypted=false WHERE email = 'admin@acme.test'";
        var psql = LicenseServer.Data.Operations.ProcessRunner.Run("psql",
            ["-h", builder.Host!, "-p", builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", builder.Username!, "-d", builder.Database!,
             "-v", "ON_ERROR_STOP=1", "-c", statement],
            TimeSpan.FromSeconds(30), new Dictionary<string, string> { ["PGPASSWORD"] = builder.Password! });
        Assert.That(psql.ExitCode, Is.Zero, psql.Output);
        Assert.That(psql.Output, Does.Contain("UPDATE 1"));

        using (var signIn = await _client.SignInAsync(Email, "plain-Secret-1"))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/Account/ChangePassword"), "the console asks for a new password");

        var row = await RowAsync(Email);
        Assert.That(row.Encrypted, Is.True);
        Assert.That(row.Password, Is.Not.EqualTo("plain-Secret-1").And.Not.Contain("plain-Secret-1"));
        Assert.That(row.MustChange, Is.True);

        using (var home = await _client.GetAsync("/"))
            Assert.That(home.RedirectPath(), Is.EqualTo("/Account/ChangePassword"));
        using (var changed = await _client.PostFormAsync("/Account/ChangePassword", new Dictionary<string, string>
               { ["currentPassword"] = "plain-Secret-1", ["newPassword"] = "brand new secret", ["confirmation"] = "brand new secret" }))
            Assert.That(changed.RedirectPath(), Is.EqualTo("/"));
        Assert.That(await _client.GetTextAsync("/"), Does.Contain("Licensed products"));
        Assert.That((await RowAsync(Email)).MustChange, Is.False);

        using var other = new ConsoleClient(_server.BaseUrl);
        using (var old = await other.SignInAsync(Email, "plain-Secret-1"))
            Assert.That(old.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the plain password works once only");
    }

    [Test]
    public async Task The_SQL_fallback_locks_out_every_session_and_bearer_token_issued_before()
    {
        // The intruder holds a console session and a 30-day bearer token of the account.
        using var intruder = new ConsoleClient(_server.BaseUrl);
        using (var signIn = await intruder.SignInAsync(Email, Password))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/"));
        using var kit = new LicenseServer.Client.KitClient(new Uri(_server.BaseUrl), TestServer.Vendor.PublicKey);
        var token = (await kit.LoginAsync(Email, Password)).Token;
        Assert.That(await kit.OrganizationsAsync(), Is.Empty, "the token works before the reset");

        // The DBA resets the compromised account with the documented statement.
        await using (var connection = new NpgsqlConnection(_server.ConnectionString))
            await connection.ExecuteAsync("UPDATE public.user_account SET password='plain-Secret-2', password_encrypted=false WHERE email = 'admin@acme.test'");

        using (var session = await intruder.GetAsync("/"))
            Assert.That(session.RedirectPath(), Does.StartWith("/Account/SignIn"), "the console session issued before has ended");
        using var stale = new LicenseServer.Client.KitClient(new Uri(_server.BaseUrl), TestServer.Vendor.PublicKey) { Token = token };
        var refused = Assert.ThrowsAsync<LicenseServer.Client.KitApiException>(() => stale.OrganizationsAsync())!;
        Assert.That(refused.Status, Is.EqualTo(401), "the bearer token issued before is refused");

        using (var owner = await _client.SignInAsync(Email, "plain-Secret-2"))
            Assert.That(owner.RedirectPath(), Is.EqualTo("/Account/ChangePassword"), "the owner signs in with the password the DBA gave");
        Assert.ThrowsAsync<LicenseServer.Client.KitApiException>(() => stale.OrganizationsAsync(), "and the old token stays refused after the re-hash");
    }

    [Test]
    public async Task An_empty_plain_password_never_matches()
    {
        await using (var connection = new NpgsqlConnection(_server.ConnectionString))
            await connection.ExecuteAsync("UPDATE public.user_account SET password='', password_encrypted=false WHERE email = @Email", new { Email });
        using var signIn = await _client.SignInAsync(Email, "");
        Assert.That(signIn.StatusCode, Is.Not.EqualTo(HttpStatusCode.Redirect));
    }

    [Test]
    public async Task Changing_the_password_ends_other_sessions()
    {
        using var laptop = new ConsoleClient(_server.BaseUrl);
        await laptop.SignInAsync(Email, Password);
        await _client.SignInAsync(Email, Password);
        Assert.That(await laptop.GetTextAsync("/"), Does.Contain("Licensed products"));

        using (var wrongCurrent = await _client.PostFormAsync("/Account/ChangePassword", new Dictionary<string, string>
               { ["currentPassword"] = "not it", ["newPassword"] = "another secret", ["confirmation"] = "another secret" }))
        {
            Assert.That(wrongCurrent.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(wrongCurrent), Does.Contain("current password is not correct"));
        }
        using (var mismatch = await _client.PostFormAsync("/Account/ChangePassword", new Dictionary<string, string>
               { ["currentPassword"] = Password, ["newPassword"] = "another secret", ["confirmation"] = "another secreT" }))
            Assert.That(await ConsoleClient.TextOf(mismatch), Does.Contain("do not match"));

        using (var changed = await _client.PostFormAsync("/Account/ChangePassword", new Dictionary<string, string>
               { ["currentPassword"] = Password, ["newPassword"] = "another secret", ["confirmation"] = "another secret" }))
            Assert.That(changed.RedirectPath(), Is.EqualTo("/"));

        Assert.That(await _client.GetTextAsync("/"), Does.Contain("Licensed products"), "this session lives on");
        using var ended = await laptop.GetAsync("/");
        Assert.That(ended.RedirectPath(), Does.StartWith("/Account/SignIn"), "the other session has ended");
    }

    [Test]
    public async Task The_reset_password_command_sets_a_new_password()
    {
        var exit = await KitCommands.RunAsync(["reset-password", "--email", "ADMIN@acme.test", "--password", "reset by command",
            .. TestServer.Arguments(_server.ConnectionString, _server.DataDirectory)]);
        Assert.That(exit, Is.Zero);
        using (var old = await _client.SignInAsync(Email, Password))
            Assert.That(old.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using (var fresh = await _client.SignInAsync(Email, "reset by command"))
            Assert.That(fresh.RedirectPath(), Is.EqualTo("/"));

        var unknown = await KitCommands.RunAsync(["reset-password", "--email", "nobody@acme.test", "--password", "whatever 123",
            .. TestServer.Arguments(_server.ConnectionString, _server.DataDirectory)]);
        Assert.That(unknown, Is.EqualTo(1));
    }
}
