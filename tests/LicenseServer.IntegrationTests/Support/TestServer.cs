using System.Text;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Crypto;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>
/// The real server, in this process, on real Kestrel at a free loopback port, against its own database
/// in the test PostgreSQL. It trusts a test vendor key as its demo key.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public static readonly PrivateKey Vendor = PrivateKey.Generate();
    private static readonly Lazy<string> VendorPublicKeyFile = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"kit-test-vendor-{Vendor.PublicKey.Id}.pub");
        File.WriteAllText(path, KeyFiles.WritePublic(Vendor.PublicKey));
        return path;
    });

    private TestServer(WebApplication app, string connectionString, string dataDirectory)
    {
        App = app;
        ConnectionString = connectionString;
        DataDirectory = dataDirectory;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public WebApplication App { get; }
    public string ConnectionString { get; }
    public string DataDirectory { get; }
    public string BaseUrl { get; }
    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    public static string[] Arguments(string connectionString, string dataDirectory, params string[] extra) =>
    [
        $"--Kit:Database:Url={connectionString}",
        $"--Kit:DataDirectory={dataDirectory}",
        $"--Kit:Secrets:KeyFile={SecretsKeyFile(connectionString, dataDirectory)}",
        $"--Kit:Logs:Directory={Path.Combine(dataDirectory, "logs")}",
        "--Kit:Logs:ConsoleLevel=Warn",
        "--Kit:Demo:Enabled=true",
        $"--Kit:Demo:VendorPublicKeyFile={VendorPublicKeyFile.Value}",
        "--Urls=http://127.0.0.1:0",
        .. extra,
    ];

    /// <summary>
    /// Starts a server on a new migrated database (<see cref="PostgresFixture.CreateMigratedDatabase()"/>), or on
    /// <paramref name="connectionString"/>: an empty database for a first start, or existing data to restart over it.
    /// </summary>
    public static Task<TestServer> StartAsync(string? connectionString = null, string? dataDirectory = null, params string[] settings) =>
        StartAsync(null, connectionString, dataDirectory, settings);

    /// <summary>As <see cref="StartAsync(string?, string?, string[])"/>, on a clock the test controls.</summary>
    public static async Task<TestServer> StartAsync(TimeProvider? clock, string? connectionString = null, string? dataDirectory = null, params string[] settings)
    {
        connectionString ??= PostgresFixture.CreateMigratedDatabase();
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "kit-test-data-" + Guid.NewGuid().ToString("N")[..8]);
        var app = ServerHost.Build(Arguments(connectionString, dataDirectory, settings), clock: clock);
        await app.StartAsync();
        return new TestServer(app, connectionString, dataDirectory);
    }

    /// <summary>
    /// The secrets key file of a database: every node a test starts on the same database shares it, as every node
    /// of an installation must. The embedded database keeps it in its data directory.
    /// </summary>
    public static string SecretsKeyFile(string connectionString, string dataDirectory) => connectionString.Length == 0
        ? Path.Combine(dataDirectory, "secrets.key")
        : Path.Combine(Path.GetTempPath(), "kit-test-secrets", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(connectionString)))[..16] + ".key");

    /// <summary>The setup code that activation wrote to the data directory, as the server's administrator reads it.</summary>
    public string SetupCode() => File.ReadAllText(Path.Combine(DataDirectory, "setup-code")).Trim();

    public async Task<InstallationIdentity> IdentityAsync() => await Service<ActivationService>().EnsureIdentityAsync();

    /// <summary>
    /// A license for this installation from the test vendor, with KSE (per-user, 10) and KRE (floating, 5), and
    /// the vendor's license-wide <paramref name="limits"/> (none: the defaults).
    /// </summary>
    public async Task<byte[]> LicenseAsync(Func<LicenseOrder, LicenseOrder>? change = null, PrivateKey? key = null, DateTimeOffset? issuedAt = null,
        VendorLimits? limits = null)
    {
        var identity = await IdentityAsync();
        var now = DateTimeOffset.UtcNow;
        var order = new LicenseOrder("ACME Corp", "C-42", identity.InstallationId, identity.ServerPublicKey, now.AddDays(-1), now.AddDays(365),
        [
            LicenseIssuer.ParseProduct("KSE:per-user:10:annual:Studio Enterprise", now.AddDays(365)),
            LicenseIssuer.ParseProduct("KRE:floating:5:annual:Runtime Engine", now.AddDays(365)),
        ], limits);
        return Encoding.UTF8.GetBytes(LicenseIssuer.Issue(change?.Invoke(order) ?? order, key ?? Vendor, issuedAt ?? now.AddMinutes(-1)).ToText());
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
