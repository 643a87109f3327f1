using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Organizations;

public class InvitationTests : ConsoleTest
{
    private long _org;
    private string Users => $"/Organizations/{_org}/Users";

    [SetUp]
    public async Task CreateOrganization() => _org = await CreateOrganizationAsync(Admin, "ACME QA");

    private async Task<Dictionary<string, string>> InviteLinksAsync(string emails)
    {
        using var response = await InviteAsync(Admin, _org, emails);
        var html = await ConsoleClient.TextOf(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), html);
        Assert.That(html, Does.Contain("No mail server is set for this organization"));
        return LinksIn(await response.Content.ReadAsStringAsync());
    }

    private async Task<long> CountAsync(string table)
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<long>($"SELECT count(*) FROM {table}");
    }

    [Test]
    public async Task Pending_Activations_shows_every_state_of_an_invitation()
    {
        await CreateUserAsync("existing@acme.test");
        var links = await InviteLinksAsync("new@acme.test, existing@acme.test\nlate@acme.test; gone@acme.test accepted@acme.test");
        Assert.That(links.Keys, Is.EquivalentTo(new[] { "new@acme.test", "existing@acme.test", "late@acme.test", "gone@acme.test", "accepted@acme.test" }));

        await using (var db = Db())
        {
            await db.ExecuteAsync("UPDATE invitation SET expires_at = now() - interval '1 minute' WHERE email = 'late@acme.test'");
            var gone = await db.ExecuteScalarAsync<long>("SELECT id FROM invitation WHERE email = 'gone@acme.test'");
            using (var asked = await Admin.PostFormAsync(Users + "?handler=Revoke", new Dictionary<string, string> { ["invitationId"] = gone.ToString() }, tokenPage: Users))
                Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Revoke the invitation of gone@acme.test?"));
            Assert.That(await db.ExecuteScalarAsync<bool>("SELECT revoked_at IS NULL FROM invitation WHERE id = @gone", new { gone }), "nothing changes before the confirmation");
            using var revoke = await Admin.PostFormAsync(Users + "?handler=Revoke", new Dictionary<string, string> { ["invitationId"] = gone.ToString(), ["confirmed"] = "true" }, tokenPage: Users);
            Assert.That(revoke.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        }
        var visitor = NewClient();
        using (var accept = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
                   new Dictionary<string, string> { ["token"] = Token(links["accepted@acme.test"]), ["password"] = "new user pass", ["confirmation"] = "new user pass" },
                   tokenPage: PathOf(links["accepted@acme.test"])))
            Assert.That(accept.RedirectPath(), Does.StartWith("/Account/SignIn"));

        var states = await PendingActivationsAsync(Admin, _org);
        Assert.That(states, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["new@acme.test"] = "Must set a password",
            ["existing@acme.test"] = "Not accepted yet",
            ["late@acme.test"] = "Expired",
            ["gone@acme.test"] = "Revoked",
            ["accepted@acme.test"] = "Accepted",
        }));
    }

    private static string Token(string link) => Uri.UnescapeDataString(new Uri(link).Query.Split("token=")[1]);

    [Test]
    public async Task A_new_user_sets_a_password_and_joins_and_the_used_link_says_so()
    {
        var link = (await InviteLinksAsync("new@acme.test"))["new@acme.test"];
        var visitor = NewClient();
        var page = await visitor.GetTextAsync(PathOf(link));
        Assert.That(page, Does.Contain("Create a password for the account").And.Contain("new@acme.test"));

        using (var mismatch = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
                   new Dictionary<string, string> { ["token"] = Token(link), ["password"] = "new user pass", ["confirmation"] = "other pass 1" }, tokenPage: PathOf(link)))
        {
            Assert.That(mismatch.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(mismatch), Does.Contain("do not match"));
        }
        using (var accepted = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
                   new Dictionary<string, string> { ["token"] = Token(link), ["password"] = "new user pass", ["confirmation"] = "new user pass" }, tokenPage: PathOf(link)))
            Assert.That(accepted.RedirectPath(), Does.StartWith("/Account/SignIn"));

        var member = await SignedInAsync("new@acme.test", "new user pass");
        Assert.That(await member.GetTextAsync("/"), Does.Contain("ACME QA"));

        using var reused = await NewClient().GetAsync(PathOf(link));
        Assert.That(reused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(reused), Does.Contain("This link has been used to reset password."));
        using var replay = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
            new Dictionary<string, string> { ["token"] = Token(link), ["password"] = "hijack pass 1", ["confirmation"] = "hijack pass 1" }, tokenPage: "/Account/SignIn");
        Assert.That(await ConsoleClient.TextOf(replay), Does.Contain("This link has been used to reset password."));
        using (var old = await NewClient().SignInAsync("new@acme.test", "hijack pass 1"))
            Assert.That(old.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "a used link cannot set the password again");
    }

    [Test]
    public async Task An_existing_user_signs_in_and_joins()
    {
        await CreateUserAsync("existing@acme.test");
        var link = (await InviteLinksAsync("existing@acme.test"))["existing@acme.test"];
        var visitor = NewClient();
        Assert.That(await visitor.GetTextAsync(PathOf(link)), Does.Contain("Sign in to accept"));

        var user = await SignedInAsync("existing@acme.test");
        Assert.That(await user.GetTextAsync(PathOf(link)), Does.Contain("Join ACME QA"));
        using (var join = await user.PostFormAsync("/Invitation?handler=Join", new Dictionary<string, string> { ["token"] = Token(link) }, tokenPage: PathOf(link)))
            Assert.That(join.RedirectPath(), Is.EqualTo($"/Organizations/{_org}"));
        Assert.That(await user.GetTextAsync($"/Organizations/{_org}"), Does.Contain("Member"));
        await using var db = Db();
        Assert.That(await db.QueryAsync<string>("SELECT action FROM audit_event WHERE organization_id = @_org AND subject = 'existing@acme.test' ORDER BY id", new { _org }),
            Is.EqualTo(new[] { "invitation.created", "invitation.accepted", "member.added" }));
    }

    [Test]
    public async Task A_link_opened_while_signed_in_as_someone_else_cannot_be_accepted()
    {
        await CreateUserAsync("existing@acme.test");
        await CreateUserAsync("intruder@acme.test");
        var links = await InviteLinksAsync("existing@acme.test, fresh@acme.test");
        var intruder = await SignedInAsync("intruder@acme.test");
        foreach (var link in links.Values)
        {
            using var page = await intruder.GetAsync(PathOf(link));
            Assert.That(await ConsoleClient.TextOf(page), Does.Contain("Cannot accept the invitation."));
        }
        using (var join = await intruder.PostFormAsync("/Invitation?handler=Join", new Dictionary<string, string> { ["token"] = Token(links["existing@acme.test"]) }, tokenPage: "/"))
            Assert.That(await ConsoleClient.TextOf(join), Does.Contain("Cannot accept the invitation."));
        using (var setPassword = await intruder.PostFormAsync("/Invitation?handler=SetPassword",
                   new Dictionary<string, string> { ["token"] = Token(links["fresh@acme.test"]), ["password"] = "taken over 1", ["confirmation"] = "taken over 1" }, tokenPage: "/"))
            Assert.That(await ConsoleClient.TextOf(setPassword), Does.Contain("Cannot accept the invitation."));
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @_org", new { _org }), Is.EqualTo(1));
    }

    [Test]
    public async Task Expired_revoked_and_tampered_links_each_say_why()
    {
        var links = await InviteLinksAsync("late@acme.test, gone@acme.test");
        await using (var db = Db())
        {
            await db.ExecuteAsync("UPDATE invitation SET expires_at = now() - interval '1 second' WHERE email = 'late@acme.test'");
            await db.ExecuteAsync("UPDATE invitation SET revoked_at = now() WHERE email = 'gone@acme.test'");
        }
        var tampered = links["gone@acme.test"][..^3] + (links["gone@acme.test"][^3] == 'A' ? "B" : "A") + links["gone@acme.test"][^2..];
        var cases = new[] { (links["late@acme.test"], "has expired"), (links["gone@acme.test"], "has been revoked"), (tampered, "is not valid"), ("http://x/Invitation?token=short", "is not valid") };
        foreach (var (link, message) in cases)
        {
            using var response = await NewClient().GetAsync(PathOf(link));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), link);
            Assert.That(await ConsoleClient.TextOf(response), Does.Contain(message), link);
        }
        var visitor = NewClient();
        using var late = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
            new Dictionary<string, string> { ["token"] = Token(links["late@acme.test"]), ["password"] = "too late 12", ["confirmation"] = "too late 12" }, tokenPage: "/Account/SignIn");
        Assert.That(await ConsoleClient.TextOf(late), Does.Contain("has expired"));
        await using var check = Db();
        Assert.That(await check.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @_org", new { _org }), Is.EqualTo(1));
    }

    [Test]
    public async Task Resend_makes_a_new_link_and_the_old_one_stops_working()
    {
        var old = (await InviteLinksAsync("new@acme.test"))["new@acme.test"];
        long id;
        await using (var db = Db()) id = await db.ExecuteScalarAsync<long>("SELECT id FROM invitation WHERE email = 'new@acme.test'");
        using var resend = await Admin.PostFormAsync(Users + "?handler=Resend", new Dictionary<string, string> { ["invitationId"] = id.ToString() }, tokenPage: Users);
        var fresh = LinksIn(await resend.Content.ReadAsStringAsync())["new@acme.test"];
        Assert.That(fresh, Is.Not.EqualTo(old));
        Assert.That(await ConsoleClient.TextOf(await NewClient().GetAsync(PathOf(old))), Does.Contain("is not valid"));
        Assert.That(await NewClient().GetTextAsync(PathOf(fresh)), Does.Contain("Create a password"));
    }

    [Test]
    public async Task A_list_with_one_bad_email_invites_nobody_and_says_which()
    {
        var (invitations, users) = (await CountAsync("invitation"), await CountAsync("user_account"));
        foreach (var (emails, message) in new[]
        {
            ("good@acme.test, not-an-email, other@acme.test", "\"not-an-email\" is not a valid email address."),
            ("good@acme.test, good@acme.test", "good@acme.test is in the list twice."),
            ("  ,  ;  ", "Enter at least one email address."),
            ("good@acme.test, " + AdminEmail, $"{AdminEmail} is already a member of this organization."),
            (string.Join(",", Enumerable.Range(0, 101).Select(i => $"u{i}@acme.test")), "at most 100"),
        })
        {
            using var response = await InviteAsync(Admin, _org, emails);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), emails);
            var html = await ConsoleClient.TextOf(response);
            Assert.That(html, Does.Contain("Nobody was invited").And.Contain(message), emails);
        }
        Assert.That((await CountAsync("invitation"), await CountAsync("user_account")), Is.EqualTo((invitations, users)), "nothing stored half-way");
    }

    [Test]
    public async Task Inviting_someone_already_invited_is_refused_until_the_invitation_expires()
    {
        await InviteLinksAsync("twice@acme.test");
        using (var again = await InviteAsync(Admin, _org, "Twice@ACME.test"))
            Assert.That(await ConsoleClient.TextOf(again), Does.Contain("twice@acme.test has been invited already"));
        await using (var db = Db()) await db.ExecuteAsync("UPDATE invitation SET expires_at = now() - interval '1 day'");
        var renewed = await InviteLinksAsync("twice@acme.test");
        Assert.That(await NewClient().GetTextAsync(PathOf(renewed["twice@acme.test"])), Does.Contain("Create a password"));
        Assert.That(await CountAsync("invitation"), Is.EqualTo(1), "the expired invitation is renewed, not doubled");
    }
}
