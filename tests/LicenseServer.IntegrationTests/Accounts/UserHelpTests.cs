using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Accounts;

/// <summary>The server admin helps a person who cannot sign in: a reset link through the server's mail server, or a one-time password.</summary>
public partial class UserHelpTests : ConsoleTest
{
    [Test]
    public async Task A_one_time_password_is_shown_once_ends_the_user_s_sessions_and_must_be_changed_at_sign_in()
    {
        var ann = await CreateUserAsync("ann@acme.test");
        var annSession = await SignedInAsync("ann@acme.test");
        using (var asked = await Admin.PostFormAsync("/Admin/Users?handler=OneTimePassword", new Dictionary<string, string> { ["userId"] = $"{ann}" }, tokenPage: "/Admin/Users"))
            Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Set a one-time password for ann@acme.test?").And.Not.Contain("data-testid=\"one-time-password\""));
        using (var stillIn = await annSession.GetAsync("/")) Assert.That(stillIn.StatusCode, Is.EqualTo(HttpStatusCode.OK), "asking changed nothing");

        using var set = await Admin.PostFormAsync("/Admin/Users?handler=OneTimePassword",
            new Dictionary<string, string> { ["userId"] = $"{ann}", ["confirmed"] = "true" }, tokenPage: "/Admin/Users");
        Assert.That(set.Headers.CacheControl?.NoStore, Is.True, "a page with a password is not cached");
        var password = OneTimePassword().Match(await ConsoleClient.TextOf(set)).Groups[1].Value;
        Assert.That(password, Has.Length.EqualTo(20));

        using (var ended = await annSession.GetAsync("/")) Assert.That(ended.RedirectPath(), Does.StartWith("/Account/SignIn"), "her sessions ended");
        using (var old = NewClient()) using (var refused = await old.SignInAsync("ann@acme.test", Password))
            Assert.That(refused.StatusCode, Is.Not.EqualTo(HttpStatusCode.Redirect), "the old password no longer works");
        using (var fresh = NewClient())
        {
            using var signedIn = await fresh.SignInAsync("ann@acme.test", password);
            Assert.That(signedIn.RedirectPath(), Does.StartWith("/Account/ChangePassword"), "she must choose her own password first");
        }
        await using var db = Db();
        var audit = await db.QueryAsync<string>("SELECT action || ' ' || coalesce(subject, '') || ' ' || coalesce(details, '') FROM audit_event WHERE action LIKE 'user.%'");
        Assert.That(audit, Is.EqualTo(new[] { "user.one_time_password_set ann@acme.test " }), "the audit says it was set, never what it is");
    }

    [Test]
    public async Task A_reset_link_goes_through_the_server_s_mail_server_and_without_one_the_admin_is_told_why_not()
    {
        var ann = await CreateUserAsync("ann@acme.test");
        using (var noMail = await Admin.PostFormAsync("/Admin/Users?handler=ResetLink", new Dictionary<string, string> { ["userId"] = $"{ann}" }, tokenPage: "/Admin/Users"))
        {
            Assert.That(noMail.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(noMail), Does.Contain("The server has no mail server: set one under Server settings, or set a one-time password instead."));
        }

        await UseMailDevForServerAsync();
        using (var sent = await Admin.PostFormAsync("/Admin/Users?handler=ResetLink", new Dictionary<string, string> { ["userId"] = $"{ann}" }, tokenPage: "/Admin/Users"))
            Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await ConsoleClient.TextOf(sent));
        Assert.That(await Admin.GetTextAsync("/Admin/Users"), Does.Contain("A password reset link has been mailed to ann@acme.test"));
        var mail = await Mail.WaitForAsync("ann@acme.test", "Reset your Kit License Server password");
        var link = mail.Link(Server.Service<LicenseServer.Web.Hosting.KitOptions>().ServerUrl.TrimEnd('/') + "/Account/ResetPassword?token=");
        var token = Uri.UnescapeDataString(new Uri(link).Query.Split("token=")[1]);
        var visitor = NewClient();
        using (var reset = await visitor.PostFormAsync("/Account/ResetPassword",
                   new Dictionary<string, string> { ["token"] = token, ["password"] = "ann's own 1", ["confirmation"] = "ann's own 1" }, tokenPage: PathOf(link)))
            Assert.That(reset.RedirectPath(), Does.StartWith("/Account/SignIn"));
        await SignedInAsync("ann@acme.test", "ann's own 1");
        Assert.That(await Admin.GetTextAsync("/Admin/Audit?action=user."), Does.Contain("user.reset_link_sent"));
    }

    [GeneratedRegex("data-testid=\"one-time-password\">\\s*<h2>[^<]*</h2>\\s*<p><code>([^<]+)</code>")]
    private static partial Regex OneTimePassword();
}
