using System.Net;
using LicenseServer.Client;
using LicenseServer.IntegrationTests.Licenses;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Faults;

/// <summary>
/// Two server processes on one database, each with a data directory of its own, share nothing in memory or
/// on disk. Data Protection keys live in PostgreSQL, so a console cookie and a form's antiforgery token made by
/// one node are good on the other; a client's token, its activations and its floating seats are the same on
/// either node, and the quota holds across both.
/// </summary>
public class SeveralNodesTests : LicenseTest
{
    /// <summary>A request to <paramref name="baseUrl"/> carrying the cookies a client got from another node.</summary>
    private static async Task<HttpResponseMessage> SendWithCookiesAsync(string baseUrl, ConsoleClient from, string fromUrl, HttpRequestMessage request)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };
        request.Headers.Add("Cookie", from.Cookies.GetCookieHeader(new Uri(fromUrl)));
        return await http.SendAsync(request);
    }

    [Test]
    public async Task A_console_cookie_and_form_from_one_node_are_accepted_by_the_other()
    {
        await using var nodeB = await ServerProcess.StartAsync(Server.ConnectionString);

        // Signed in on A (this process), the admin opens pages on B (another process).
        using (var page = await SendWithCookiesAsync(nodeB.BaseUrl, Admin, Server.BaseUrl, new HttpRequestMessage(HttpMethod.Get, "/Admin/Users")))
        {
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK), page.Headers.Location?.ToString());
            Assert.That(await ConsoleClient.TextOf(page), Does.Contain($"data-testid=\"signed-in-as\">{AdminEmail}<"));
        }
        // A form A rendered is posted to B: its antiforgery token and cookie are good there.
        var token = await Admin.TokenAsync("/Organizations/Create");
        using (var created = await SendWithCookiesAsync(nodeB.BaseUrl, Admin, Server.BaseUrl, new HttpRequestMessage(HttpMethod.Post, "/Organizations/Create")
               {
                   Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["name"] = "Made on B", ["__RequestVerificationToken"] = token }),
               }))
        {
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(created));
            Assert.That(created.RedirectPath(), Does.StartWith("/Organizations/"));
        }

        // And the other way: signed in on B, accepted by A.
        await CreateUserAsync("dev@acme.test");
        using var onB = new ConsoleClient(nodeB.BaseUrl);
        using (var signIn = await onB.SignInAsync("dev@acme.test", Password))
            Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var page = await SendWithCookiesAsync(Server.BaseUrl, onB, nodeB.BaseUrl, new HttpRequestMessage(HttpMethod.Get, "/")))
        {
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK), page.Headers.Location?.ToString());
            Assert.That(await ConsoleClient.TextOf(page), Does.Contain("data-testid=\"signed-in-as\">dev@acme.test<"));
        }

        // Without a cookie, B sends a visitor to sign in: the 200s above came from the cookie.
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(nodeB.BaseUrl) };
        using var refused = await anonymous.GetAsync("/Admin/Users");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(refused.RedirectPath(), Does.StartWith("/Account/SignIn"));
    }

    [Test]
    public async Task A_client_activates_and_checks_out_on_either_node_within_one_quota()
    {
        await using var nodeB = await ServerProcess.StartAsync(Server.ConnectionString);
        await AddMemberAsync(Org, "dev@acme.test");
        using (var assigned = await AssignAsync(Admin, "dev@acme.test"))
            Assert.That(assigned.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        // Signed in on B; the token works on A, and the machine activated on B is the same activation on A.
        using var onB = new KitClient(new Uri(nodeB.BaseUrl), TestServer.Vendor.PublicKey);
        var login = await onB.LoginAsync("dev@acme.test", Password);
        using var onA = new KitClient(new Uri(Server.BaseUrl), TestServer.Vendor.PublicKey) { Token = login.Token };
        var leaseB = await onB.ActivateAsync(Org, "KSE", "MACHINE-1");
        var leaseA = await onA.ActivateAsync(Org, "KSE", "MACHINE-1");
        Assert.That((leaseA.MachineId, leaseA.OrganizationId), Is.EqualTo((leaseB.MachineId, leaseB.OrganizationId)));
        Assert.That(await ActiveMachinesAsync(), Is.EqualTo(1), "one machine, activated through two nodes");

        // The engine's API key, made on A, checks out on both. KRE's quota is 5: three seats taken through A, two through B,
        // and the sixth is refused by either.
        var membership = await Server.Service<LicenseServer.Data.Organizations.OrganizationRepository>().MembershipAsync(Org, await UserIdAsync("dev@acme.test"));
        onA.ApiKey = onB.ApiKey = await Members.EngineKeyAsync(Server, membership!, "engine");
        var sessions = new List<FloatingSession>();
        for (var i = 0; i < 5; i++)
            sessions.Add(await (i < 3 ? onA : onB).CheckoutAsync("KRE", "CI-01", $"{i}", autoHeartbeat: false));
        foreach (var node in new[] { onA, onB })
            Assert.That(Assert.ThrowsAsync<KitApiException>(() => node.CheckoutAsync("KRE", "CI-01", "sixth", autoHeartbeat: false))!.Code, Is.EqualTo("quota_exceeded"));

        // A session taken on A is kept alive and handed back through B; its seat is free for A at once.
        await onB.HeartbeatAsync(sessions[0].Id);
        await onB.ReleaseAsync(sessions[0].Id);
        sessions.Add(await onA.CheckoutAsync("KRE", "CI-01", "sixth", autoHeartbeat: false));
        foreach (var session in sessions.Skip(1)) await onA.ReleaseAsync(session.Id);
    }

    private async Task<long> ActiveMachinesAsync()
    {
        await using var db = Db();
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(db, "SELECT count(*) FROM machine_activation WHERE organization_id = @Org", new { Org });
    }
}
