using System.Net;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Faults;

/// <summary>
/// X3: two server processes on one database share nothing in memory. Data Protection keys live in
/// PostgreSQL, so a console cookie and a form's antiforgery token made by one node are good on the other.
/// </summary>
public class SeveralNodesTests : ConsoleTest
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
}
