using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.Data.Accounts;
using LicenseServer.Web.Activation;
using Npgsql;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>An activated server with its default account (a server admin) signed in as <see cref="Admin"/>.</summary>
public abstract partial class ConsoleTest
{
    public const string AdminEmail = "admin@acme.test";
    public const string Password = "correct horse";
    protected TestServer Server { get; private set; } = null!;
    protected ConsoleClient Admin { get; private set; } = null!;
    private readonly List<ConsoleClient> _clients = [];

    /// <summary>Extra settings for the server of every test of the class, e.g. shorter session leases.</summary>
    protected virtual string[] ServerSettings => [];

    /// <summary>The vendor's license-wide limits in the .lic every test of the class starts with (none: the defaults).</summary>
    protected virtual LicenseServer.Core.Activation.VendorLimits? LicenseLimits => null;

    /// <summary>A new migrated database for the server of each test: in the run's PostgreSQL unless a class has its own.</summary>
    protected virtual string NewDatabase() => PostgresFixture.CreateMigratedDatabase();

    private readonly Lazy<MailDev> _mail = new(MailDev.Start);

    /// <summary>This class's own MailDev, started by the first test that reads mail and stopped after the class.</summary>
    protected MailDev Mail => _mail.Value;

    [OneTimeTearDown]
    public void StopMailDev()
    {
        if (_mail.IsValueCreated) _mail.Value.Stop();
    }

    /// <summary>The server's clock: real time until a test moves it.</summary>
    protected TestClock Clock { get; private set; } = new();

    [SetUp]
    public async Task StartServerAsync()
    {
        Clock = new TestClock();
        Server = await TestServer.StartAsync(Clock, NewDatabase(), settings: ServerSettings);
        await Server.Service<ActivationService>().ActivateAsync(await Server.LicenseAsync(limits: LicenseLimits));
        await CreateDefaultAccountAsync(Server, AdminEmail, Password);
        Admin = await SessionOfAsync(AdminEmail);
    }

    /// <summary>
    /// A client holding the session cookie a sign-in of <paramref name="email"/> would give, issued with the server's own
    /// cookie options (the same claims, the same expiry): every test starts with the admin signed in, and a real
    /// sign-in's PBKDF2 check would cost each of them a few hundred ms of CPU. Sign-in itself is what AccountTests,
    /// ServerAuditTests and the browser tests go through.
    /// </summary>
    protected async Task<ConsoleClient> SessionOfAsync(string email)
    {
        var account = await Server.Service<UserAccountRepository>().FindByEmailAsync(email) ?? throw new AssertionException($"no account {email}");
        var scheme = Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationDefaults.AuthenticationScheme;
        var options = Server.Service<Microsoft.Extensions.Options.IOptionsMonitor<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions>>().Get(scheme);
        var now = (options.TimeProvider ?? Server.Service<TimeProvider>()).GetUtcNow();
        var ticket = new Microsoft.AspNetCore.Authentication.AuthenticationTicket(LicenseServer.Web.Accounts.KitClaims.For(account, Server.Service<TimeProvider>().GetUtcNow()),
            new Microsoft.AspNetCore.Authentication.AuthenticationProperties { IssuedUtc = now, ExpiresUtc = now + options.ExpireTimeSpan }, scheme);
        var client = NewClient();
        client.Cookies.Add(new Uri(Server.BaseUrl), new Cookie(options.Cookie.Name!, options.TicketDataFormat.Protect(ticket)));
        return client;
    }

    /// <summary>
    /// The default account (a server admin), stored as AccountService.CreateDefaultAccountAsync stores it but
    /// with the run's one hash of the password: every test starts this way, and its own PBKDF2 run would cost
    /// each of them a few hundred ms of CPU. AccountTests and the setup page tests go through the service.
    /// </summary>
    public static async Task CreateDefaultAccountAsync(TestServer server, string email, string password) =>
        Assert.That(await server.Service<UserAccountRepository>().CreateDefaultAccountAsync(email, PasswordHashes.Of(password)), "the default account was created");

    [TearDown]
    public async Task StopServerAsync()
    {
        foreach (var client in _clients) client.Dispose();
        _clients.Clear();
        await Server.DisposeAsync();
    }

    protected NpgsqlConnection Db() => new(Server.ConnectionString);

    protected ConsoleClient NewClient()
    {
        var client = new ConsoleClient(Server.BaseUrl);
        _clients.Add(client);
        return client;
    }

    protected async Task<ConsoleClient> SignedInAsync(string email, string password = Password)
    {
        var client = NewClient();
        using var response = await client.SignInAsync(email, password);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), $"{email} could not sign in");
        return client;
    }

    /// <summary>A user with a password, as if they had accepted an invitation elsewhere.</summary>
    protected async Task<long> CreateUserAsync(string email, string password = Password)
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>(
            "INSERT INTO public.user_account (email, password, password_encrypted) VALUES (@email, @hash, true) RETURNING id",
            new { email, hash = PasswordHashes.Of(password) });
    }

    protected async Task<long> CreateOrganizationAsync(ConsoleClient owner, string name = "ACME QA")
    {
        using var response = await owner.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = name });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(response));
        return long.Parse(response.RedirectPath().Split('/')[^1]);
    }

    /// <summary>Points the organization's mail server at this class's MailDev, through its Settings page.</summary>
    protected async Task UseMailDevAsync(long organizationId)
    {
        var settings = $"/Organizations/{organizationId}/Settings";
        using var saved = await Admin.PostFormAsync(settings + "?handler=Update", new Dictionary<string, string>
        {
            ["host"] = "127.0.0.1", ["port"] = Mail.SmtpPort.ToString(), ["username"] = "", ["password"] = "", ["protocol"] = "plain", ["sender"] = "licenses@acme.test",
        }, tokenPage: settings);
        Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(saved));
    }

    /// <summary>
    /// Points the server's own mail server (Server settings), which carries mail about accounts, at this class's
    /// MailDev, or at another SMTP port on this machine.
    /// </summary>
    protected async Task UseMailDevForServerAsync(int? smtpPort = null)
    {
        using var saved = await Admin.PostFormAsync("/Admin/Settings?handler=Update", new Dictionary<string, string>
        {
            ["host"] = "127.0.0.1", ["port"] = (smtpPort ?? Mail.SmtpPort).ToString(), ["username"] = "", ["password"] = "", ["protocol"] = "plain", ["sender"] = "kit@acme.test",
        }, tokenPage: "/Admin/Settings");
        Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(saved));
    }

    /// <summary>Lets every signed-in user create organizations (Server settings), for tests where someone other than the server admin owns one.</summary>
    protected async Task LetAnyoneCreateOrganizationsAsync()
    {
        using var saved = await Admin.PostFormAsync("/Admin/Settings?handler=Organizations",
            new Dictionary<string, string> { ["organizationCreation"] = "anyone" }, tokenPage: "/Admin/Settings");
        Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(saved));
    }

    /// <summary>Adds a member directly, with a role, for tests about what roles may do.</summary>
    protected async Task<long> AddMemberAsync(long organizationId, string email, string role = "member", bool canManageLicenses = false)
    {
        await using var db = Db();
        var userId = await db.ExecuteScalarAsync<long?>("SELECT id FROM user_account WHERE email = @email", new { email }) ?? await CreateUserAsync(email);
        await db.ExecuteAsync("INSERT INTO organization_member (organization_id, user_id, role, can_manage_licenses) VALUES (@organizationId, @userId, @role, @canManageLicenses)",
            new { organizationId, userId, role, canManageLicenses });
        return userId;
    }

    protected async Task<HttpResponseMessage> InviteAsync(ConsoleClient client, long organizationId, string emails) =>
        await client.PostFormAsync($"/Organizations/{organizationId}/Users?handler=Invite", new Dictionary<string, string> { ["emails"] = emails },
            tokenPage: $"/Organizations/{organizationId}/Users");

    /// <summary>The invitation links a page shows, by email.</summary>
    protected static Dictionary<string, string> LinksIn(string html) =>
        LinkPattern().Matches(html).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[2].Value), m => WebUtility.HtmlDecode(m.Groups[1].Value));

    /// <summary>Pending Activations as email → state.</summary>
    protected async Task<Dictionary<string, string>> PendingActivationsAsync(ConsoleClient client, long organizationId)
    {
        var html = await client.GetTextAsync($"/Organizations/{organizationId}/Users");
        return StatePattern().Matches(html).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => m.Groups[2].Value);
    }

    protected static string PathOf(string link) => new Uri(link).PathAndQuery;

    [GeneratedRegex("<input type=\"text\" readonly value=\"([^\"]+)\" aria-label=\"Invitation link for ([^\"]+)\"")]
    private static partial Regex LinkPattern();

    [GeneratedRegex("<tr data-email=\"([^\"]+)\">\\s*<td>[^<]*</td>\\s*<td data-testid=\"state\">([^<]+)</td>")]
    private static partial Regex StatePattern();
}
