namespace LicenseServer.Web.Hosting;

/// <summary>The "Kit" section of the configuration; appsettings.sample.json documents every key.</summary>
public sealed class KitOptions
{
    public string ServerUrl { get; set; } = "http://localhost:8080";
    public string DataDirectory { get; set; } = "data";
    public DatabaseOptions Database { get; set; } = new();
    public LogOptions Logs { get; set; } = new();
    public DemoOptions Demo { get; set; } = new();
    public ClientOptions Clients { get; set; } = new();
    public PluginOptions Plugins { get; set; } = new();
    public UsageOptions Usage { get; set; } = new();
    public AlertOptions Alerts { get; set; } = new();
    public HttpsOptions Https { get; set; } = new();
    public MetricsOptions Metrics { get; set; } = new();
    public ProxyOptions Proxy { get; set; } = new();
    public SecretsOptions Secrets { get; set; } = new();
    public DirectoryOptions Directory { get; set; } = new();

    /// <summary>A relative path is taken from the folder the server is installed in, not the working directory.</summary>
    public static string Resolve(string path) => Path.GetFullPath(path, AppContext.BaseDirectory);
}

public sealed class DatabaseOptions
{
    /// <summary>Empty: the embedded PostgreSQL in the data directory.</summary>
    public string Url { get; set; } = "";
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    public int EmbeddedPort { get; set; } = 5433;
    public string PostgresBinDirectory { get; set; } = "";
}

public sealed class LogOptions
{
    public string Directory { get; set; } = "logs";
    public string ConsoleLevel { get; set; } = "Info";
}

/// <summary>The key that encrypts the secrets kept in the database (see SecretsKeyring.cs).</summary>
public sealed class SecretsOptions
{
    /// <summary>The secrets key file, the same on every node; empty: secrets.key in the data directory.</summary>
    public string KeyFile { get; set; } = "";
}

public sealed class DemoOptions
{
    /// <summary>Trust a locally made demo vendor key besides the built-in one; every page says so.</summary>
    public bool Enabled { get; set; }
    public string VendorPublicKeyFile { get; set; } = "";
}

/// <summary>
/// The client API's timings and limits. The limits that make seats scarce are the vendor's, in the
/// .lic: unset (null) follows the .lic; a value may only tighten it (see <see cref="Licenses.EffectiveLimits"/>).
/// </summary>
public sealed class ClientOptions
{
    /// <summary>How long a bearer token from /api/v1/auth/login lives.</summary>
    public int TokenDays { get; set; } = 30;
    /// <summary>How long a per-user activation lease may be checked offline before the client renews it (at most the .lic's).</summary>
    public int? LeaseDays { get; set; }
    /// <summary>How many machines one user may have activated per product (at most the .lic's).</summary>
    public int? MachinesPerUser { get; set; }
    /// <summary>How often a floating session's client heartbeats.</summary>
    public int HeartbeatSeconds { get; set; } = 60;
    /// <summary>How long a floating session counts after its last heartbeat (at most the .lic's; by default 5 minutes plus 30 s drift).</summary>
    public int? SessionLeaseSeconds { get; set; }
    /// <summary>How many times a user's machines may become active per product within <see cref="ChurnWindowDays"/> (at most the .lic's; the server admin may set another limit per product).</summary>
    public int? ChurnLimit { get; set; }
    /// <summary>At least the .lic's: a shorter window would let more activations through.</summary>
    public int? ChurnWindowDays { get; set; }
}

/// <summary>The local plugin repository.</summary>
public sealed class PluginOptions
{
    /// <summary>The largest package an upload may be; uploads are streamed to a temporary file and then into the database, never held in memory.</summary>
    public int MaxUploadMegabytes { get; set; } = 200;
}

/// <summary>How often seats in use are sampled for the Usage page, and how long samples are kept.</summary>
public sealed class UsageOptions
{
    /// <summary>Seconds between samples; also the time bucket that keeps one sample per bucket across nodes.</summary>
    public int SampleSeconds { get; set; } = 60;
    /// <summary>Samples and recorded refusals older than this are deleted.</summary>
    public int RetentionDays { get; set; } = 90;
}

/// <summary>Signing in through the company's directory; the directory itself is set in the console.</summary>
public sealed class DirectoryOptions
{
    /// <summary>
    /// How often the accounts of directory users who hold tokens, API keys or a console session are checked against the
    /// directory again; one removed or disabled there is disabled here. At most 900 (15 minutes).
    /// </summary>
    public int RecheckSeconds { get; set; } = 600;
}

/// <summary>Delivery of usage alerts by webhook.</summary>
public sealed class AlertOptions
{
    /// <summary>Attempts per webhook delivery; network errors and 5xx answers are retried, 4xx never.</summary>
    public int WebhookAttempts { get; set; } = 5;
    /// <summary>The first retry waits about this long; each further one twice as long, plus jitter.</summary>
    public int WebhookBaseDelayMs { get; set; } = 1000;
    /// <summary>How long one attempt may take.</summary>
    public int WebhookTimeoutSeconds { get; set; } = 10;
}

/// <summary>HTTPS served by Kestrel itself, for every https:// address in Urls (see Https.cs).</summary>
public sealed class HttpsOptions
{
    /// <summary>A PKCS#12 file (.pfx, .p12) or a PEM certificate; empty: no HTTPS.</summary>
    public string CertificatePath { get; set; } = "";
    /// <summary>The PKCS#12 file's password, or the password of an encrypted PEM key.</summary>
    public string CertificatePassword { get; set; } = "";
    /// <summary>PEM only: the private key file; empty when the key is in the certificate file.</summary>
    public string KeyPath { get; set; } = "";
    /// <summary>Strict-Transport-Security max-age on answers over HTTPS; 0 sends none.</summary>
    public int HstsMaxAgeDays { get; set; } = 365;
}

/// <summary>The Prometheus endpoint GET /metrics.</summary>
public sealed class MetricsOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Empty: only loopback callers may scrape. Otherwise every caller sends Authorization: Bearer &lt;token&gt;.</summary>
    public string Token { get; set; } = "";
}

/// <summary>
/// The reverse proxies in front of the server: only from these peers are X-Forwarded-For and X-Forwarded-Proto
/// believed (see ReverseProxy.cs). Empty: from no one.
/// </summary>
public sealed class ProxyOptions
{
    /// <summary>Each proxy's own IP address, as it connects to this server (127.0.0.1 for a proxy on this machine).</summary>
    public string[] KnownProxies { get; set; } = [];
    /// <summary>Ranges of proxy addresses in CIDR form, such as 10.0.0.0/8.</summary>
    public string[] KnownNetworks { get; set; } = [];
}
