using Dapper;
using LicenseServer.Cli;
using LicenseServer.Client;
using LicenseServer.Core.Crypto;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Cli;

/// <summary>The kit command against the real server: what it prints and its exit codes.</summary>
[NonParallelizable]
public class KitCommandTests : LicenseTest
{
    private string _home = null!;
    private string _vendorKey = null!;

    [SetUp]
    public void Home()
    {
        _home = Path.Combine(Path.GetTempPath(), "kit-home-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_home);
        Environment.SetEnvironmentVariable("KIT_HOME", _home);
        Environment.SetEnvironmentVariable("KIT_SERVER", Server.BaseUrl);
        _vendorKey = Path.Combine(_home, "vendor.pub");
        File.WriteAllText(_vendorKey, KeyFiles.WritePublic(TestServer.Vendor.PublicKey));
        // The test server's license is signed by the tests' vendor key, as a demo server's is by the demo key.
        Environment.SetEnvironmentVariable("KIT_VENDOR_KEY", _vendorKey);
    }

    [TearDown]
    public void Clean()
    {
        foreach (var name in new[] { "KIT_HOME", "KIT_SERVER", "KIT_API_KEY", "KIT_VENDOR_KEY" }) Environment.SetEnvironmentVariable(name, null);
        Directory.Delete(_home, recursive: true);
    }

    private static async Task<(int Code, string Out, string Err)> KitAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await KitCli.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Test]
    public async Task Login_orgs_activate_verify_and_deactivate()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        using (await AssignAsync(Admin, "dev@acme.test")) { }

        var login = await KitAsync("login", "--email", "dev@acme.test", "--password", Password);
        Assert.That(login.Code, Is.EqualTo(KitCli.Ok), login.Err);
        Assert.That(login.Out, Does.Contain("Signed in as dev@acme.test."));
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(Path.Combine(_home, "credentials.json")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That((await KitAsync("orgs")).Out, Does.Contain($"{Org}\tMember\tACME QA"));

        var lease = Path.Combine(_home, "kse.lease");
        var activated = await KitAsync("activate", "--org", Org.ToString(), "--product", "KSE", "--out", lease);
        Assert.That(activated.Code, Is.EqualTo(KitCli.Ok), activated.Err);
        var verified = await KitAsync("verify", lease, "--vendor-key", _vendorKey, "--machine-id", MachineId.Current());
        Assert.That(verified.Code, Is.EqualTo(KitCli.Ok), verified.Err);
        Assert.That(verified.Out, Does.StartWith("VALID: KSE").And.Contain("dev@acme.test"));

        var text = File.ReadAllText(lease);
        var at = text.IndexOf("\"payload\": \"", StringComparison.Ordinal) + 20;
        File.WriteAllText(lease, text[..at] + (text[at] == 'A' ? 'B' : 'A') + text[(at + 1)..]);
        var tampered = await KitAsync("verify", lease, "--vendor-key", _vendorKey);
        Assert.That(tampered.Code, Is.EqualTo(KitCli.Refused));
        Assert.That(tampered.Err, Does.StartWith("invalid ("));

        Assert.That((await KitAsync("deactivate", "--org", Org.ToString(), "--product", "KSE")).Code, Is.EqualTo(KitCli.Ok));
        var again = await KitAsync("deactivate", "--org", Org.ToString(), "--product", "KSE");
        Assert.That((again.Code, again.Err), Is.EqualTo((KitCli.Refused, again.Err)));
        Assert.That(again.Err, Does.StartWith("refused (not_activated)"));
    }

    [Test]
    public async Task Checkout_holds_a_seat_for_the_time_asked_and_releases_it()
    {
        var userId = await AddMemberAsync(Org, "runner@acme.test");
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, userId);
        Environment.SetEnvironmentVariable("KIT_API_KEY", await Members.EngineKeyAsync(Server, membership!, "cli"));

        var hold = KitAsync("checkout", "--product", "KRE", "--machine-id", "CI-9", "--for", "4");
        long held = 0;
        for (var i = 0; i < 30 && held == 0; i++)
        {
            await Task.Delay(100);
            await using var db = Db();
            held = await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL");
        }
        Assert.That(held, Is.EqualTo(1), "the seat is held");
        var result = await hold;
        Assert.That(result.Code, Is.EqualTo(KitCli.Ok), result.Err);
        Assert.That(result.Out, Does.Contain("Released."));
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL"), Is.Zero);

        var perUser = await KitAsync("checkout", "--product", "KSE", "--for", "0");
        Assert.That((perUser.Code, perUser.Err.Split(':')[0]), Is.EqualTo((KitCli.Refused, "refused (not_floating)")));
    }

    [Test]
    public async Task Login_reads_the_password_from_standard_input_when_no_person_types_it()
    {
        await AddMemberAsync(Org, "dev@acme.test");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [BuiltTools.Dll("kit"), "login", "--email", "dev@acme.test"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["KIT_HOME"] = _home;
        start.Environment["KIT_SERVER"] = Server.BaseUrl;
        start.Environment.Remove("KIT_PASSWORD");
        using var kit = System.Diagnostics.Process.Start(start)!;
        await kit.StandardInput.WriteLineAsync(Password);
        kit.StandardInput.Close();
        var output = await kit.StandardOutput.ReadToEndAsync();
        var error = await kit.StandardError.ReadToEndAsync();
        await kit.WaitForExitAsync();
        Assert.That(kit.ExitCode, Is.EqualTo(KitCli.Ok), error);
        Assert.That(output, Does.Contain("Signed in as dev@acme.test."));
        Assert.That(output + error, Does.Not.Contain(Password), "the password is never echoed");
    }

    [Test]
    public async Task Usage_mistakes_refusals_and_an_unreachable_server_have_their_exit_codes()
    {
        Assert.That((await KitAsync()).Code, Is.EqualTo(KitCli.Usage));
        Assert.That((await KitAsync("fly")).Code, Is.EqualTo(KitCli.Usage));
        Assert.That((await KitAsync("activate", "--org")).Code, Is.EqualTo(KitCli.Usage));
        Assert.That((await KitAsync("orgs")).Code, Is.EqualTo(KitCli.Usage), "not signed in yet");
        var wrong = await KitAsync("login", "--email", "admin@acme.test", "--password", "wrong password");
        Assert.That((wrong.Code, wrong.Err.Split(':')[0]), Is.EqualTo((KitCli.Refused, "refused (invalid_credentials)")));
        var down = await KitAsync("login", "--server", $"http://127.0.0.1:{FreePort.Next()}", "--email", "a@b.test", "--password", "x");
        Assert.That(down.Code, Is.EqualTo(KitCli.Unreachable));
        var id = await KitAsync("machine-id");
        Assert.That((id.Code, id.Out.Trim()), Is.EqualTo((KitCli.Ok, MachineId.Current())));
        Assert.That(MachineId.Current(), Does.Match("^[0-9A-F]{32}$"));
        Assert.That(MachineId.Compute("machine-a", "alice"), Is.Not.EqualTo(MachineId.Compute("machine-a", "bob")), "another OS account, another machine ID");
    }
}
