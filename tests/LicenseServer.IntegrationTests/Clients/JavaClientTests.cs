using System.Net;
using Dapper;
using LicenseServer.Core.Crypto;
using LicenseServer.Data.Operations;
using LicenseServer.Data.Organizations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Licenses;

namespace LicenseServer.IntegrationTests.Clients;

/// <summary>
/// The Java reference client (clients/java), built with the JDK alone, against the test vectors and a real server:
/// what the vendor's Java developers get must hold as the .NET client's does.
/// </summary>
public class JavaClientTests : LicenseTest
{
    private static readonly Lazy<string> Build = new(BuildJar);
    private string _home = null!;
    private string _vendorKeyFile = null!;

    /// <summary>
    /// Sessions last 90 seconds: the test moves the server's clock past a lease and stays within the 5 minutes of
    /// clock skew a client allows, so that the grants the server signs still verify against the Java process's clock.
    /// </summary>
    protected override LicenseServer.Core.Activation.VendorLimits? LicenseLimits => new(SessionLeaseSeconds: 90);

    /// <summary>Clients are told to heartbeat every second, so that the Java session's own timer shows within a test.</summary>
    protected override string[] ServerSettings => ["--Kit:Clients:HeartbeatSeconds=1"];

    private static string Jar => Path.Combine(Build.Value, "kit-client.jar");

    /// <summary>clients/java/build.sh into a folder of the run, and the test's race (clients/java/test) beside it.</summary>
    private static string BuildJar()
    {
        var output = Path.Combine(Path.GetTempPath(), "kit-java-" + Guid.NewGuid().ToString("N")[..8]);
        var built = ProcessRunner.Run("bash", [RepoPaths.File("clients/java/build.sh"), output], TimeSpan.FromMinutes(3));
        Assert.That(built.ExitCode, Is.Zero, built.Output);
        var race = ProcessRunner.Run("javac", ["--release", "17", "-cp", Path.Combine(output, "kit-client.jar"), "-d", Path.Combine(output, "test-classes"),
            RepoPaths.File("clients/java/test/kit/client/Race.java")], TimeSpan.FromMinutes(2));
        Assert.That(race.ExitCode, Is.Zero, race.Output);
        return output;
    }

    [SetUp]
    public void NewHome()
    {
        _home = Path.Combine(Path.GetTempPath(), "kit-java-home-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_home);
        _vendorKeyFile = Path.Combine(_home, "vendor.pub");
        File.WriteAllText(_vendorKeyFile, KeyFiles.WritePublic(TestServer.Vendor.PublicKey));
    }

    [TearDown]
    public void DeleteHome() => Directory.Delete(_home, recursive: true);

    private ProcessResult Java(string[] args, string? apiKey = null, string? classPath = null)
    {
        var environment = new Dictionary<string, string> { ["HOME"] = _home, ["KIT_VENDOR_KEY"] = _vendorKeyFile, ["KIT_SERVER"] = Server.BaseUrl };
        if (apiKey is not null) environment["KIT_API_KEY"] = apiKey;
        string[] command = classPath is null ? ["-Duser.home=" + _home, "-jar", Jar, .. args] : ["-Duser.home=" + _home, "-cp", classPath, .. args];
        return ProcessRunner.Run("java", command, TimeSpan.FromMinutes(2), environment);
    }

    private async Task<string> ApiKeyAsync(string email)
    {
        var membership = await Server.Service<OrganizationRepository>().MembershipAsync(Org, await UserIdAsync(email));
        return await Members.EngineKeyAsync(Server, membership!, "java client");
    }

    private async Task<long> LiveSessionsAsync()
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>("SELECT count(*) FROM floating_session WHERE ended_at IS NULL AND expires_at > @now", new { now = Clock.GetUtcNow().UtcDateTime });
    }

    [Test]
    public void The_Java_client_reaches_every_verdict_of_the_test_vectors()
    {
        var result = ProcessRunner.Run("java", ["-jar", Jar, "vectors", RepoPaths.File("clients/test-vectors")], TimeSpan.FromMinutes(1));
        Assert.That(result.ExitCode, Is.Zero, result.Output);
        Assert.That(result.Output, Does.Match(@"\d+ passed, 0 failed"));
    }

    [Test]
    public async Task Login_activate_and_the_lease_verifies_offline_for_this_machine_only()
    {
        var member = (await MembersAsync(1))[0];
        using (var assigned = await AssignAsync(Admin, member)) Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        var login = Java(["login", "--server", Server.BaseUrl, "--email", member, "--password", Password]);
        Assert.That(login.ExitCode, Is.Zero, login.Output);
        var orgs = Java(["orgs"]);
        Assert.That(orgs.Output, Does.Contain($"{Org}\tACME QA\tMember"));
        var activated = Java(["activate", "--org", Org.ToString(), "--product", "KSE"]);
        Assert.That(activated.ExitCode, Is.Zero, activated.Output);
        var machine = Java(["machine-id"]).Output.Trim();
        Assert.That(machine, Is.EqualTo(LicenseServer.Client.MachineId.Current()), "the Java and .NET clients give this machine the same ID");
        var lease = Path.Combine(_home, ".kit", $"KSE_{machine}.lease");
        await using (var db = Db())
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM machine_activation WHERE machine_id = @machine AND deactivated_at IS NULL", new { machine }), Is.EqualTo(1));

        var verified = Java(["verify", lease]);
        Assert.That(verified.ExitCode, Is.Zero, verified.Output);
        Assert.That(verified.Output, Does.StartWith($"Valid: KSE for {machine} until "));
        var elsewhere = Java(["verify", lease, "--machine-id", "0123456789ABCDEF0123456789ABCDEF"]);
        Assert.That(elsewhere.ExitCode, Is.EqualTo(1), elsewhere.Output);
        Assert.That(elsewhere.Output, Does.Contain("invalid (other_machine)"));
    }

    [Test]
    public async Task Fifty_threads_racing_for_five_floating_seats_get_exactly_five()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyAsync("runner@acme.test");
        var race = Java(["kit.client.Race", Server.BaseUrl, _vendorKeyFile, key, "KRE", "50"], classPath: $"{Jar}:{Path.Combine(Build.Value, "test-classes")}");
        Assert.That(race.ExitCode, Is.Zero, race.Output);
        Assert.That(race.Output, Does.Contain("granted 5").And.Contain("refused quota_exceeded 45"), race.Output);
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(5));
    }

    [Test]
    public async Task Heartbeats_keep_a_seat_a_session_without_them_expires_and_a_release_frees_the_seat()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyAsync("runner@acme.test");
        Guid Checkout(string process)
        {
            var result = Java(["checkout", "--product", "KRE", "--process", process, "--keep"], key);
            Assert.That(result.ExitCode, Is.Zero, result.Output);
            return Guid.Parse(result.Output.Split('\t')[0]);
        }
        var kept = Checkout("kept");
        var left = Checkout("left");

        Clock.Offset += TimeSpan.FromSeconds(60);
        var beat = Java(["heartbeat", "--session", kept.ToString()], key);
        Assert.That(beat.ExitCode, Is.Zero, beat.Output);
        Clock.Offset += TimeSpan.FromSeconds(60);
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(1), "the heartbeat kept its seat past the lease that the other one missed");
        var expired = Java(["heartbeat", "--session", left.ToString()], key);
        Assert.That(expired.ExitCode, Is.EqualTo(1), expired.Output);
        Assert.That(expired.Output, Does.Contain("refused (session_expired)"));

        var released = Java(["release", "--session", kept.ToString()], key);
        Assert.That(released.ExitCode, Is.Zero, released.Output);
        Assert.That(await LiveSessionsAsync(), Is.Zero);
        for (var i = 0; i < 5; i++) Checkout($"again-{i}");
        Assert.That(await LiveSessionsAsync(), Is.EqualTo(5), "every seat is free again");
    }

    [Test]
    public async Task A_checkout_heartbeats_on_its_own_timer_and_releases_its_seat_when_done()
    {
        await AddMemberAsync(Org, "runner@acme.test");
        var key = await ApiKeyAsync("runner@acme.test");
        var held = Java(["checkout", "--product", "KRE", "--process", "timer", "--for", "4"], key);
        Assert.That(held.ExitCode, Is.Zero, held.Output);
        Assert.That(held.Output, Does.Contain("Released."));
        await using var db = Db();
        var session = await db.QuerySingleAsync<(DateTime Started, DateTime LastHeartbeat, DateTime? Ended)>(
            "SELECT started_at, last_heartbeat_at, ended_at FROM floating_session WHERE process_id = 'timer'");
        Assert.That(session.LastHeartbeat - session.Started, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(2)), "the timer renewed the session while it was held");
        Assert.That(session.Ended, Is.Not.Null, "closing the session released its seat");
    }

    [Test]
    public async Task An_offline_license_made_in_the_console_verifies_in_Java_and_fails_on_another_machine()
    {
        var membership = await Server.Service<OrganizationRepository>().MembershipAsync(Org, await UserIdAsync(AdminEmail));
        var id = await Server.Service<LicenseService>().CreateOfflineAsync(membership!, "KSE", "WS-1234.abc", null);
        using var download = await Admin.GetAsync($"/Organizations/{Org}/Licenses?handler=Download&id={id}");
        Assert.That(download.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var file = Path.Combine(_home, "KSE_WS-1234.abc.lic");
        await File.WriteAllTextAsync(file, await download.Content.ReadAsStringAsync());

        var valid = Java(["verify", file, "--machine-id", "WS-1234.abc"]);
        Assert.That(valid.ExitCode, Is.Zero, valid.Output);
        Assert.That(valid.Output, Does.StartWith("Valid: KSE for WS-1234.abc until "));
        var other = Java(["verify", file, "--machine-id", "WS-9999"]);
        Assert.That(other.ExitCode, Is.EqualTo(1), other.Output);
        Assert.That(other.Output, Does.Contain("invalid (other_machine)"));
    }
}
