using System.Net;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Activation;
using Microsoft.Net.Http.Headers;

namespace LicenseServer.IntegrationTests.Hosting;

/// <summary>The server's own HTTPS with a certificate made at run time, and what HTTPS changes: HSTS and Secure cookies.</summary>
public class HttpsTests
{
    private static async Task<TestServer> ActivatedAsync(params string[] settings)
    {
        var server = await TestServer.StartAsync(settings: settings);
        await server.Service<ActivationService>().ActivateAsync(await server.LicenseAsync());
        return server;
    }

    [Test]
    public async Task A_PFX_certificate_serves_HTTPS_with_HSTS_and_every_cookie_Secure_HttpOnly_and_host_only()
    {
        using var certificate = TestCertificate.Create();
        var url = $"https://127.0.0.1:{FreePort.Next()}";
        await using var server = await ActivatedAsync($"--Urls={url}", $"--Kit:ServerUrl={url}",
            $"--Kit:Https:CertificatePath={certificate.WritePfx("pfx secret")}", "--Kit:Https:CertificatePassword=pfx secret");
        // The client trusts only this certificate: an answer at all means the server presented it.
        using var http = certificate.Client(url);

        using var ready = await http.GetAsync("/health/ready");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(ready.Headers.GetValues("Strict-Transport-Security").Single(), Is.EqualTo("max-age=31536000"));

        var (cookies, dashboard) = await CookieFlow.RunAsync(http, server.SetupCode());
        using (dashboard)
        {
            Assert.That(dashboard.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the session cookie came back over HTTPS and signed in");
            Assert.That(await dashboard.Content.ReadAsStringAsync(), Does.Contain(CookieFlow.Email));
            Assert.That(dashboard.Headers.GetValues("Strict-Transport-Security").Single(), Is.EqualTo("max-age=31536000"));
        }
        Assert.That(cookies.Keys, Is.EquivalentTo(new[] { "__Host-kit.af", "__Host-kit.msg", "__Host-kit.session" }),
            "antiforgery, the one-time message and the session, each __Host- prefixed (Secure, Path=/, no Domain)");
        foreach (var (name, cookie) in cookies)
        {
            Assert.That(cookie.Secure, name + " is Secure");
            Assert.That(cookie.HttpOnly, name + " is HttpOnly");
            Assert.That(cookie.Path.Value, Is.EqualTo("/"), name);
            Assert.That(cookie.Domain.HasValue, Is.False, name + " has no Domain");
            Assert.That(cookie.SameSite, Is.AnyOf(SameSiteMode.Lax, SameSiteMode.Strict), name);
        }
    }

    [Test]
    public async Task A_PEM_certificate_with_its_CA_and_key_serve_HTTPS_beside_plain_HTTP_and_only_HTTPS_answers_carry_HSTS_and_Secure_cookies()
    {
        using var certificate = TestCertificate.Create(withIssuer: true);
        var (pem, key) = certificate.WritePem();
        var (plain, secure) = ($"http://127.0.0.1:{FreePort.Next()}", $"https://127.0.0.1:{FreePort.Next()}");
        // The intranet case of the README's design section: the server URL is plain http.
        await using var server = await ActivatedAsync($"--Urls={plain};{secure}", $"--Kit:ServerUrl={plain}",
            $"--Kit:Https:CertificatePath={pem}", $"--Kit:Https:KeyPath={key}", "--Kit:Https:HstsMaxAgeDays=30");
        using var overHttps = certificate.Client(secure);
        using var overHttp = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri(plain) };

        using (var answer = await overHttps.GetAsync("/Setup"))
        {
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(answer.Headers.GetValues("Strict-Transport-Security").Single(), Is.EqualTo("max-age=2592000"), "30 days");
            Assert.That(certificate.ChainSent, Does.Contain(certificate.Issuer!.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)),
                "the intermediate CA certificate that follows the server's in the PEM file is sent in the handshake");
            var antiforgery = SetCookieHeaderValue.ParseList(answer.Headers.GetValues("Set-Cookie").ToList()).Single(c => c.Name == "kit.af");
            Assert.That(antiforgery.Secure && antiforgery.HttpOnly, "over HTTPS the cookie is Secure even though the server URL is http");
        }
        using (var answer = await overHttp.GetAsync("/Setup"))
        {
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(answer.Headers.Contains("Strict-Transport-Security"), Is.False, "no HSTS over plain HTTP");
            var antiforgery = SetCookieHeaderValue.ParseList(answer.Headers.GetValues("Set-Cookie").ToList()).Single(c => c.Name == "kit.af");
            Assert.That(antiforgery.HttpOnly, Is.True);
            Assert.That(antiforgery.Secure, Is.False, "a Secure cookie would never come back over plain http");
        }
    }
}
