using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Organizations;

/// <summary>
/// Mail against a real SMTP server (MailDev): an organization's mail server and its invitations, and the server's
/// own mail server, which alone carries mail about a person's account (reset links, password changes).
/// </summary>
public class MailTests : ConsoleTest
{
    private long _org;
    private string Settings => $"/Organizations/{_org}/Settings";

    [SetUp]
    public async Task CreateOrganization()
    {
        _org = await CreateOrganizationAsync(Admin, "ACME QA");
        await Mail.ClearAsync();
    }

    private async Task<HttpResponseMessage> SaveMailAsync(string host, int port, string password = "smtp-secret", string sender = "licenses@acme.test") =>
        await Admin.PostFormAsync(Settings + "?handler=Update", new Dictionary<string, string>
        {
            ["host"] = host, ["port"] = port.ToString(), ["username"] = "", ["password"] = password, ["protocol"] = "plain", ["sender"] = sender,
        }, tokenPage: Settings);

    private async Task<HttpResponseMessage> TestMailAsync(string to) =>
        await Admin.PostFormAsync(Settings + "?handler=Test", new Dictionary<string, string> { ["recipient"] = to }, tokenPage: Settings);

    [Test]
    public async Task Send_test_email_arrives_and_a_wrong_host_or_port_shows_the_error()
    {
        Assert.That(await Admin.GetTextAsync(Settings), Does.Contain("No mail server is set"));
        using (var saved = await SaveMailAsync("127.0.0.1", Mail.SmtpPort))
            Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var sent = await TestMailAsync("it@acme.test"))
            Assert.That(await ConsoleClient.TextOf(sent), Does.Contain("The test email has been sent to it@acme.test."));
        var mail = await Mail.WaitForAsync("it@acme.test", "Kit License Server test email");
        Assert.That(mail.Text, Does.Contain("ACME QA"));

        using (await SaveMailAsync("127.0.0.1", FreePort.Next())) { }
        using (var refused = await TestMailAsync("it@acme.test"))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(refused), Does.Contain("did not accept the message: the connection was refused."));
        }
        using (await SaveMailAsync("no-such-host.invalid", 25)) { }
        using (var unknown = await TestMailAsync("it@acme.test"))
            Assert.That(await ConsoleClient.TextOf(unknown), Does.Contain("no-such-host.invalid:25 did not accept the message: the host name was not found."));
    }

    [Test]
    public async Task The_mail_password_is_stored_encrypted_and_kept_when_left_empty()
    {
        using (await SaveMailAsync("127.0.0.1", Mail.SmtpPort, password: "smtp-secret")) { }
        await using var db = Db();
        var stored = await db.ExecuteScalarAsync<string>("SELECT password_protected FROM mail_settings");
        Assert.That(stored, Is.Not.Null.And.Not.Contain("smtp-secret"));
        Assert.That(await Admin.GetTextAsync(Settings), Does.Not.Contain("smtp-secret"), "the password is never sent back");

        async Task Save(string host, string password) => (await Admin.PostFormAsync(Settings + "?handler=Update", new Dictionary<string, string>
        {
            ["host"] = host, ["port"] = Mail.SmtpPort.ToString(), ["username"] = "mailer", ["password"] = password, ["protocol"] = "plain", ["sender"] = "licenses@acme.test",
        }, tokenPage: Settings)).Dispose();
        await Save("127.0.0.1", "smtp-secret");
        stored = await db.ExecuteScalarAsync<string>("SELECT password_protected FROM mail_settings");
        await Save("127.0.0.1", "");
        Assert.That(await db.ExecuteScalarAsync<string>("SELECT password_protected FROM mail_settings"), Is.EqualTo(stored), "kept for the same server and account");
        await Save("smtp.elsewhere.test", "");
        Assert.That(await db.ExecuteScalarAsync<string?>("SELECT password_protected FROM mail_settings"), Is.Null,
            "a password left empty is not carried to another server, where it could be captured");
    }

    [TestCase("", "25", "plain", "a@acme.test", "host name")]
    [TestCase("smtp.acme.test", "0", "plain", "a@acme.test", "port number")]
    [TestCase("smtp.acme.test", "70000", "plain", "a@acme.test", "port number")]
    [TestCase("smtp.acme.test", "25", "carrier-pigeon", "a@acme.test", "protocol")]
    [TestCase("smtp.acme.test", "25", "plain", "not an address", "sender")]
    public async Task Bad_mail_settings_are_refused_and_nothing_is_stored(string host, string port, string protocol, string sender, string message)
    {
        using var response = await Admin.PostFormAsync(Settings + "?handler=Update", new Dictionary<string, string>
        {
            ["host"] = host, ["port"] = port, ["username"] = "", ["password"] = "", ["protocol"] = protocol, ["sender"] = sender,
        }, tokenPage: Settings);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain(message));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM mail_settings"), Is.Zero);
    }

    [Test]
    public async Task An_invitation_email_arrives_with_a_link_that_works()
    {
        using (await SaveMailAsync("127.0.0.1", Mail.SmtpPort)) { }
        using (var invited = await InviteAsync(Admin, _org, "mailed@acme.test"))
            Assert.That(await ConsoleClient.TextOf(invited), Does.Contain("Sent"));
        var mail = await Mail.WaitForAsync("mailed@acme.test", "You are invited to join ACME QA");
        var link = mail.Link(Server.Service<LicenseServer.Web.Hosting.KitOptions>().ServerUrl.TrimEnd('/') + "/Invitation?token=");
        var visitor = NewClient();
        var token = Uri.UnescapeDataString(new Uri(link).Query.Split("token=")[1]);
        using (var accepted = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
                   new Dictionary<string, string> { ["token"] = token, ["password"] = "mailed pass 1", ["confirmation"] = "mailed pass 1" }, tokenPage: PathOf(link)))
            Assert.That(accepted.RedirectPath(), Does.StartWith("/Account/SignIn"));
        Assert.That(await (await SignedInAsync("mailed@acme.test", "mailed pass 1")).GetTextAsync("/"), Does.Contain("ACME QA"));
    }

    [Test]
    public async Task Forgot_password_mails_a_single_use_link_and_says_the_same_for_unknown_emails()
    {
        await UseMailDevForServerAsync();
        var visitor = NewClient();
        using var known = await visitor.PostFormAsync("/Account/ForgotPassword", new Dictionary<string, string> { ["email"] = AdminEmail });
        using var unknown = await visitor.PostFormAsync("/Account/ForgotPassword", new Dictionary<string, string> { ["email"] = "nobody@acme.test" });
        static string Answer(string html) => html[html.IndexOf("role=\"status\"", StringComparison.Ordinal)..][..200];
        Assert.That(Answer(await ConsoleClient.TextOf(unknown)), Is.EqualTo(Answer(await ConsoleClient.TextOf(known))));

        var mail = await Mail.WaitForAsync(AdminEmail, "Reset your Kit License Server password");
        Assert.That(await Mail.MailsToAsync("nobody@acme.test"), Is.Empty);
        var link = mail.Link(Server.Service<LicenseServer.Web.Hosting.KitOptions>().ServerUrl.TrimEnd('/') + "/Account/ResetPassword?token=");
        var token = Uri.UnescapeDataString(new Uri(link).Query.Split("token=")[1]);

        using (var reset = await visitor.PostFormAsync("/Account/ResetPassword", new Dictionary<string, string> { ["token"] = token, ["password"] = "after reset 1", ["confirmation"] = "after reset 1" }, tokenPage: PathOf(link)))
            Assert.That(reset.RedirectPath(), Does.StartWith("/Account/SignIn"));
        using (var ended = await Admin.GetAsync("/"))
            Assert.That(ended.RedirectPath(), Does.StartWith("/Account/SignIn"), "a reset ends the user's sessions");
        await SignedInAsync(AdminEmail, "after reset 1");

        using (var reused = await visitor.GetAsync(PathOf(link)))
            Assert.That(await ConsoleClient.TextOf(reused), Does.Contain("This link has been used to reset password."));
        using (var again = await visitor.PostFormAsync("/Account/ResetPassword", new Dictionary<string, string> { ["token"] = token, ["password"] = "second try 1", ["confirmation"] = "second try 1" }, tokenPage: "/Account/SignIn"))
            Assert.That(await ConsoleClient.TextOf(again), Does.Contain("This link has been used to reset password."));
    }

    [Test]
    public async Task An_expired_reset_link_is_refused()
    {
        await UseMailDevForServerAsync();
        var visitor = NewClient();
        using (await visitor.PostFormAsync("/Account/ForgotPassword", new Dictionary<string, string> { ["email"] = AdminEmail })) { }
        var mail = await Mail.WaitForAsync(AdminEmail, "Reset your Kit License Server password");
        var link = mail.Link("http");
        await using (var db = Db()) await db.ExecuteAsync("UPDATE password_reset SET expires_at = now() - interval '1 second'");
        var token = Uri.UnescapeDataString(new Uri(link).Query.Split("token=")[1]);
        using var late = await visitor.PostFormAsync("/Account/ResetPassword", new Dictionary<string, string> { ["token"] = token, ["password"] = "too late 12", ["confirmation"] = "too late 12" }, tokenPage: "/Account/SignIn");
        Assert.That(late.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(late), Does.Contain("has expired"));
        using (var oldPassword = await NewClient().SignInAsync(AdminEmail, Password))
            Assert.That(oldPassword.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the password is unchanged");
    }

    [Test]
    public async Task Without_any_mail_server_the_forgot_password_page_says_to_ask_an_admin()
    {
        var page = await NewClient().GetTextAsync("/Account/ForgotPassword");
        Assert.That(page, Does.Contain("Ask your administrator to reset your password."));
    }

    [Test]
    public async Task An_organization_Admin_cannot_take_over_an_account_through_the_organizations_mail_server()
    {
        // The server admin belongs to an organization where the attacker is an Admin.
        await AddMemberAsync(_org, "evil-admin@acme.test", "admin");
        var attacker = await SignedInAsync("evil-admin@acme.test");
        var attackersMail = MailDev.Start();
        try
        {
            using (var pointed = await attacker.PostFormAsync(Settings + "?handler=Update", new Dictionary<string, string>
                   {
                       ["host"] = "127.0.0.1", ["port"] = attackersMail.SmtpPort.ToString(), ["username"] = "", ["password"] = "", ["protocol"] = "plain", ["sender"] = "it@acme.test",
                   }, tokenPage: Settings))
                Assert.That(pointed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "an Admin may set the organization's own mail server");

            var visitor = NewClient();
            Assert.That(await visitor.GetTextAsync("/Account/ForgotPassword"), Does.Contain("Ask your administrator").And.Not.Contain("Send reset link"),
                "an organization's mail server does not make the server offer reset links");
            using (await visitor.PostFormAsync("/Account/ForgotPassword", new Dictionary<string, string> { ["email"] = AdminEmail }, tokenPage: "/Account/SignIn")) { }

            // Once the server has a mail server of its own, the link goes there, to the account's owner only.
            await UseMailDevForServerAsync();
            using (await visitor.PostFormAsync("/Account/ForgotPassword", new Dictionary<string, string> { ["email"] = AdminEmail })) { }
            await Mail.WaitForAsync(AdminEmail, "Reset your Kit License Server password");
            Assert.That(await attackersMail.MailsToAsync(AdminEmail), Is.Empty, "no reset link ever reached the organization's mail server");
        }
        finally
        {
            attackersMail.Stop();
        }
    }

    [Test]
    public async Task Forgot_password_waits_for_the_servers_mail_server_and_the_server_admin_is_told()
    {
        using (await SaveMailAsync("127.0.0.1", Mail.SmtpPort)) { }
        Assert.That(await Admin.GetTextAsync("/"), Does.Contain("data-testid=\"server-mail-banner\""), "organizations send mail, the server does not: say so");
        await AddMemberAsync(_org, "member@acme.test");
        Assert.That(await (await SignedInAsync("member@acme.test")).GetTextAsync("/"), Does.Not.Contain("server-mail-banner"), "a server admin's matter");
        using (var invited = await InviteAsync(Admin, _org, "invited@acme.test"))
            Assert.That(await ConsoleClient.TextOf(invited), Does.Contain("Sent"));
        await Mail.WaitForAsync("invited@acme.test", "You are invited to join ACME QA");

        await UseMailDevForServerAsync();
        Assert.That(await Admin.GetTextAsync("/"), Does.Not.Contain("server-mail-banner"));
        Assert.That(await NewClient().GetTextAsync("/Account/ForgotPassword"), Does.Contain("Send reset link"));
    }

    [Test]
    public async Task A_changed_password_is_told_to_its_owner_through_the_servers_mail_server()
    {
        await UseMailDevForServerAsync();
        await AddMemberAsync(_org, "member@acme.test");
        var member = await SignedInAsync("member@acme.test");
        using (var changed = await member.PostFormAsync("/Account/ChangePassword", new Dictionary<string, string>
               { ["currentPassword"] = Password, ["newPassword"] = "a new secret 1", ["confirmation"] = "a new secret 1" }))
            Assert.That(changed.RedirectPath(), Is.EqualTo("/"));
        var notice = await Mail.WaitForAsync("member@acme.test", "Your Kit License Server password was changed");
        Assert.That(notice.Text, Does.Contain("If this was not you").And.Contain("/Account/ForgotPassword").And.Not.Contain("a new secret 1"));
    }

    [Test]
    public async Task The_servers_mail_server_is_set_and_tested_by_a_server_admin_only()
    {
        Assert.That(await Admin.GetTextAsync("/Admin/Settings"), Does.Contain("No mail server is set"));
        await UseMailDevForServerAsync();
        using (var sent = await Admin.PostFormAsync("/Admin/Settings?handler=Test", new Dictionary<string, string> { ["recipient"] = "it@acme.test" }, tokenPage: "/Admin/Settings"))
            Assert.That(await ConsoleClient.TextOf(sent), Does.Contain("The test email has been sent to it@acme.test."));
        Assert.That((await Mail.WaitForAsync("it@acme.test", "Kit License Server test email")).Text, Does.Contain("the server's own mail server"));
        using (var bad = await Admin.PostFormAsync("/Admin/Settings?handler=Update", new Dictionary<string, string>
               { ["host"] = "", ["port"] = "25", ["username"] = "", ["password"] = "", ["protocol"] = "plain", ["sender"] = "kit@acme.test" }, tokenPage: "/Admin/Settings"))
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));

        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<string>("SELECT host FROM mail_settings WHERE organization_id IS NULL"), Is.EqualTo("127.0.0.1"), "the bad update kept the stored settings");
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM audit_event WHERE action = 'server.mail_updated' AND organization_id IS NULL"), Is.EqualTo(1));
        Assert.That(await Admin.GetTextAsync("/Admin/Settings"), Does.Match($"{AdminEmail}</td><td>server.mail_updated</td><td>127.0.0.1:{Mail.SmtpPort} plain</td><td>127.0.0.1"),
            "the page shows who changed the settings, when and from where");
        await AddMemberAsync(_org, "owner@acme.test", "owner");
        using (var owner = await (await SignedInAsync("owner@acme.test")).GetAsync("/Admin/Settings"))
            Assert.That(owner.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }
}
