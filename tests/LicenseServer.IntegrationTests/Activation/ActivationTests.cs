using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Accounts;
using Npgsql;

namespace LicenseServer.IntegrationTests.Activation;

public class ActivationTests
{
    private TestServer _server = null!;
    private ConsoleClient _client = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _server = await TestServer.StartAsync();
        _client = new ConsoleClient(_server.BaseUrl);
    }

    [TearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<long> StoredLicensesAsync()
    {
        await using var connection = new NpgsqlConnection(_server.ConnectionString);
        return await connection.ExecuteScalarAsync<long>("SELECT (SELECT count(*) FROM server_license) + (SELECT count(*) FROM licensed_product)");
    }

    [Test]
    public async Task Until_activated_every_console_page_leads_to_the_Activate_screen()
    {
        foreach (var path in new[] { "/", "/Account/SignIn", "/Setup", "/Account/ChangePassword" })
        {
            using var response = await _client.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), path);
            Assert.That(response.RedirectPath(), Is.EqualTo("/Activate"), path);
        }
        var page = await _client.GetTextAsync("/Activate");
        Assert.That(page, Does.Contain((await _server.IdentityAsync()).InstallationId));
    }

    [Test]
    public async Task The_license_request_file_names_this_installation_and_its_server_key()
    {
        using var response = await _client.GetAsync("/Activate?handler=Request&companyId=C-77");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentDisposition!.FileNameStar ?? response.Content.Headers.ContentDisposition.FileName,
            Does.Contain("kit-license-request.json"));
        var request = LicenseRequest.Parse(await response.Content.ReadAsStringAsync());
        var identity = await _server.IdentityAsync();
        Assert.That((request.InstallationId, request.ServerPublicKey, request.CompanyId),
            Is.EqualTo((identity.InstallationId, identity.ServerPublicKey, "C-77")));
    }

    private static byte[] FlipPayloadByte(byte[] file)
    {
        var parsed = LicenseFile.Parse(file);
        var payload = (byte[])parsed.Payload.Clone();
        payload[payload.Length / 2] ^= 0x20;
        return Encoding.UTF8.GetBytes((parsed with { Payload = payload }).ToText());
    }

    [Test]
    public async Task Each_bad_license_is_refused_with_its_own_message_and_nothing_is_stored()
    {
        var now = DateTimeOffset.UtcNow;
        var cases = new (string Name, byte[] File, string Expected)[]
        {
            ("one byte changed", FlipPayloadByte(await _server.LicenseAsync()), "signature does not match"),
            ("signed by another key", await _server.LicenseAsync(key: PrivateKey.Generate()), "not issued by this server's vendor"),
            ("expired", await _server.LicenseAsync(o => o with { ValidFrom = now.AddDays(-400), ValidUntil = now.AddDays(-1) }, issuedAt: now.AddDays(-400)), "expired on"),
            ("other installation", await _server.LicenseAsync(o => o with { InstallationId = Guid.NewGuid().ToString() }), "issued for installation"),
            ("not yet valid", await _server.LicenseAsync(o => o with { ValidFrom = now.AddDays(2) }), "not valid yet"),
            ("unreadable", Encoding.UTF8.GetBytes("this is not a license"), "could not be read"),
            ("wrong format", Encoding.UTF8.GetBytes((LicenseFile.Parse(await _server.LicenseAsync()) with { Format = 7 }).ToText()), "format version 7"),
            ("issued tomorrow", await _server.LicenseAsync(issuedAt: now.AddDays(1)), "later than this server's clock"),
        };
        var messages = new HashSet<string>();
        foreach (var (name, file, expected) in cases)
        {
            using var response = await _client.UploadLicenseAsync(file);
            var html = await ConsoleClient.TextOf(response);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), name);
            Assert.That(html, Does.Contain(expected), name);
            messages.Add(html[html.IndexOf("role=\"alert\"", StringComparison.Ordinal)..][..200]);
            Assert.That(await StoredLicensesAsync(), Is.Zero, $"{name}: nothing may be stored");
            using var home = await _client.GetAsync("/");
            Assert.That(home.RedirectPath(), Is.EqualTo("/Activate"), $"{name}: the server must stay un-activated");
        }
        Assert.That(messages, Has.Count.EqualTo(cases.Length), "each failure has its own message");
    }

    [Test]
    public async Task A_valid_license_activates_then_the_default_account_is_created_once()
    {
        using (var upload = await _client.UploadLicenseAsync(await _server.LicenseAsync()))
        {
            Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
            Assert.That(upload.RedirectPath(), Is.EqualTo("/Setup"));
        }
        using (var home = await _client.GetAsync("/"))
            Assert.That(home.RedirectPath(), Is.EqualTo("/Setup"), "after activation, the default account comes first");

        var code = _server.SetupCode();
        using (var weak = await _client.PostFormAsync("/Setup", Fields("admin@acme.test", "short", "short", code)))
        {
            Assert.That(weak.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(weak), Does.Contain("at least 8 characters"));
        }
        using (var created = await _client.PostFormAsync("/Setup", Fields("Admin@ACME.test", "correct horse", "correct horse", code.ToLowerInvariant())))
            Assert.That(created.RedirectPath(), Does.StartWith("/Account/SignIn"), "the code is accepted however it is typed");
        Assert.That(File.Exists(SetupCodeFile), Is.False, "the spent code's file is gone");

        using (var again = await _client.GetAsync("/Setup"))
            Assert.That(again.RedirectPath(), Does.StartWith("/Account/SignIn"), "the default account is one-time");
        using var stranger = new ConsoleClient(_server.BaseUrl);
        using (var second = await stranger.PostFormAsync("/Setup", Fields("intruder@evil.test", "intruder pass", "intruder pass", code), tokenPage: "/Account/SignIn"))
            Assert.That(second.RedirectPath(), Does.StartWith("/Account/SignIn"));
        await using var connection = new NpgsqlConnection(_server.ConnectionString);
        Assert.That(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM user_account"), Is.EqualTo(1));

        using (var signIn = await _client.SignInAsync("admin@acme.test", "correct horse"))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/"));
        var dashboard = await _client.GetTextAsync("/");
        Assert.That(dashboard, Does.Contain("Studio Enterprise").And.Contain("KSE").And.Contain("Runtime Engine").And.Contain("KRE"));
        Assert.That(dashboard, Does.Contain("DEMO MODE"), "demo mode shows on every page");
    }

    [Test]
    public async Task After_setup_the_Activate_screen_is_for_the_server_admin_only()
    {
        await _server.Service<LicenseServer.Web.Activation.ActivationService>().ActivateAsync(await _server.LicenseAsync());
        await _server.Service<LicenseServer.Web.Accounts.AccountService>().CreateDefaultAccountAsync("admin@acme.test", "correct horse", "correct horse");

        using var anonymous = await _client.GetAsync("/Activate");
        Assert.That(anonymous.RedirectPath(), Does.StartWith("/Account/SignIn"));
        using var upload = await new ConsoleClient(_server.BaseUrl).GetAsync("/Activate?handler=Request");
        Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        await _client.SignInAsync("admin@acme.test", "correct horse");
        Assert.That(await _client.GetTextAsync("/Activate"), Does.Contain("ACME Corp"));
    }

    [Test]
    public async Task An_older_license_cannot_replace_a_newer_one()
    {
        var activation = _server.Service<LicenseServer.Web.Activation.ActivationService>();
        await activation.ActivateAsync(await _server.LicenseAsync(issuedAt: DateTimeOffset.UtcNow.AddMinutes(-1)));
        var older = await _server.LicenseAsync(o => o with { Customer = "Old Corp" }, issuedAt: DateTimeOffset.UtcNow.AddDays(-2));

        var e = Assert.ThrowsAsync<LicenseRejectedException>(() => activation.ActivateAsync(older))!;
        Assert.That(e.Reason, Is.EqualTo(LicenseRejection.OlderThanCurrent));
        Assert.That((await activation.GetStateAsync()).License!.Customer, Is.EqualTo("ACME Corp"));
    }

    [Test]
    public async Task An_oversized_file_is_refused_and_nothing_is_stored()
    {
        var big = new byte[2 * 1024 * 1024];
        Array.Fill(big, (byte)'{');
        using var response = await _client.UploadLicenseAsync(big);
        Assert.That((int)response.StatusCode, Is.EqualTo(413).Or.EqualTo(400));
        Assert.That(await StoredLicensesAsync(), Is.Zero);
    }

    [Test]
    public async Task A_post_without_the_antiforgery_token_is_refused()
    {
        using var response = await _client.PostFormAsync("/Activate", new Dictionary<string, string>(), withToken: false);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    private static Dictionary<string, string> Fields(string email, string password, string confirmation, string setupCode = "") =>
        new() { ["email"] = email, ["password"] = password, ["confirmation"] = confirmation, ["setupCode"] = setupCode };

    private string SetupCodeFile => Path.Combine(_server.DataDirectory, "setup-code");


    // Alone (see Parallelism.cs): it reads the server's log file, and the log configuration is the process's.
    [Test, NonParallelizable]
    public async Task Between_activation_and_the_default_account_a_stranger_without_the_setup_code_cannot_become_the_server_admin()
    {
        using (var upload = await _client.UploadLicenseAsync(await _server.LicenseAsync()))
            Assert.That(upload.RedirectPath(), Is.EqualTo("/Setup"));
        var code = _server.SetupCode();
        Assert.That(code, Does.Match("^([A-Z2-7]{4}-){6}[A-Z2-7]{2}$"), "128 random bits, in groups a person can read");
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(SetupCodeFile), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "only the server's account reads it");
        var logs = Path.Combine(_server.DataDirectory, "logs");
        Assert.That(await WaitForLogAsync(logs, code), Is.True, "the code is in the server's log too");

        using var stranger = new ConsoleClient(_server.BaseUrl);
        using (var none = await stranger.PostFormAsync("/Setup", Fields("intruder@evil.test", "intruder pass", "intruder pass")))
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(await ConsoleClient.TextOf(none), Does.Contain("The setup code is not correct."));
        }
        var wrong = "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG";
        for (var i = 0; i < 4; i++)
            using (var guess = await stranger.PostFormAsync("/Setup", Fields("intruder@evil.test", "intruder pass", "intruder pass", wrong)))
                Assert.That(guess.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        using (var throttled = await stranger.PostFormAsync("/Setup", Fields("intruder@evil.test", "intruder pass", "intruder pass", code)))
        {
            Assert.That(throttled.StatusCode, Is.EqualTo((HttpStatusCode)429), "wrong codes are throttled like sign-ins, even before a right one");
            Assert.That(throttled.Headers.RetryAfter, Is.Not.Null);
        }
        await using (var connection = new NpgsqlConnection(_server.ConnectionString))
            Assert.That(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM user_account"), Is.Zero, "no account was made");

        // The command line makes a new code (for a lost file); the old one stops working.
        Assert.That(await LicenseServer.Web.Commands.KitCommands.RunAsync(["setup-code", .. TestServer.Arguments(_server.ConnectionString, _server.DataDirectory)]), Is.Zero);
        var fresh = _server.SetupCode();
        Assert.That(fresh, Is.Not.EqualTo(code));
        using (var elsewhere = new ConsoleClient(_server.BaseUrl, System.Net.IPAddress.Parse("127.0.0.2")))
        using (var old = await elsewhere.PostFormAsync("/Setup", Fields("admin@acme.test", "correct horse", "correct horse", code)))
            Assert.That(old.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        // Wrong codes from many addresses do not keep the operator out: the limit is per address.
        for (var host = 3; host < 25; host++)
        {
            using var guesser = new ConsoleClient(_server.BaseUrl, System.Net.IPAddress.Parse($"127.0.0.{host}"));
            for (var i = 0; i < AccountService.MaxFailures; i++)
                using (await guesser.PostFormAsync("/Setup", Fields("intruder@evil.test", "intruder pass", "intruder pass", "not-a-code"))) { }
        }
        using (var operatorClient = new ConsoleClient(_server.BaseUrl, System.Net.IPAddress.Parse("127.0.0.30")))
        using (var created = await operatorClient.PostFormAsync("/Setup", Fields("admin@acme.test", "correct horse", "correct horse", fresh)))
            Assert.That(created.RedirectPath(), Does.StartWith("/Account/SignIn"));
        using (var signIn = await _client.SignInAsync("admin@acme.test", "correct horse"))
            Assert.That(signIn.RedirectPath(), Is.EqualTo("/"));
    }

    private static async Task<bool> WaitForLogAsync(string directory, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var file in Directory.Exists(directory) ? Directory.GetFiles(directory) : [])
            {
                await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if ((await new StreamReader(stream).ReadToEndAsync()).Contains(text, StringComparison.Ordinal)) return true;
            }
            await Task.Delay(100);
        }
        return false;
    }
}
