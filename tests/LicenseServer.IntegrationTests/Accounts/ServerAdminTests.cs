using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Accounts;

/// <summary>The server admin's list of all users.</summary>
public class ServerAdminTests : ConsoleTest
{
    [Test]
    public async Task The_list_searches_literally_and_pages()
    {
        foreach (var email in new[] { "a_b@acme.test", "axb@acme.test", "100%@acme.test", "back\\slash@acme.test" }) await CreateUserAsync(email);
        for (var i = 0; i < 30; i++) await CreateUserAsync($"bulk{i:00}@acme.test");

        Assert.That(await Admin.GetTextAsync("/Admin/Users?q=a_b"), Does.Contain("a_b@acme.test").And.Not.Contain("axb@acme.test"), "_ is not a wildcard");
        Assert.That(await Admin.GetTextAsync("/Admin/Users?q=%25"), Does.Contain("100%@acme.test").And.Contain("1 user(s)"), "% is not a wildcard");
        Assert.That(await Admin.GetTextAsync("/Admin/Users?q=" + Uri.EscapeDataString("' OR 1=1--")), Does.Contain("0 user(s)"));
        Assert.That(await Admin.GetTextAsync("/Admin/Users?q=" + Uri.EscapeDataString("\\")), Does.Contain("back\\slash@acme.test").And.Contain("1 user(s)"));

        var first = await Admin.GetTextAsync("/Admin/Users?q=bulk");
        var second = await Admin.GetTextAsync("/Admin/Users?q=bulk&p=2");
        Assert.That(first, Does.Contain("30 user(s)").And.Contain("bulk00@").And.Contain("Page 1 of 2").And.Not.Contain("bulk29@"));
        Assert.That(second, Does.Contain("bulk29@").And.Not.Contain("bulk00@"));

        // Sorted by a column, descending on the second click; the search and the sort are kept across pages.
        var byEmailDown = await Admin.GetTextAsync("/Admin/Users?q=bulk&s=-email");
        Assert.That(byEmailDown.IndexOf("bulk29@", StringComparison.Ordinal), Is.LessThan(byEmailDown.IndexOf("bulk05@", StringComparison.Ordinal)));
        Assert.That(byEmailDown, Does.Contain("aria-sort=\"descending\"").And.Contain("href=\"/Admin/Users?q=bulk&amp;s=-email&amp;p=2\""));
        Assert.That(await Admin.GetTextAsync("/Admin/Users?q=bulk&s=" + Uri.EscapeDataString("email;DROP TABLE user_account")), Does.Contain("bulk00@"),
            "an unknown sort key is ignored");
        long bulk07;
        await using (var db = Db()) bulk07 = await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = 'bulk07@acme.test'");
        using var disabled = await Admin.PostFormAsync("/Admin/Users?handler=Disable", new Dictionary<string, string>
        {
            ["userId"] = $"{bulk07}", ["confirmed"] = "true", ["q"] = "bulk", ["s"] = "-email", ["p"] = "2",
        }, tokenPage: "/Admin/Users");
        Assert.That(disabled.Headers.Location?.OriginalString, Is.EqualTo("/Admin/Users?q=bulk&s=-email&p=2"), "an action returns to the list as it was");
    }

    [Test]
    public async Task All_users_sorts_by_how_many_organizations_each_belongs_to()
    {
        var busy = await CreateUserAsync("busy@acme.test");
        await CreateUserAsync("idle@acme.test");
        foreach (var name in new[] { "One", "Two" })
        {
            var org = await CreateOrganizationAsync(Admin, name);
            await using var db = Db();
            await db.ExecuteAsync("INSERT INTO organization_member (organization_id, user_id, role) VALUES (@org, @busy, 'member')", new { org, busy });
        }
        var page = await Admin.GetTextAsync("/Admin/Users?s=-organizations");
        Assert.That(page.IndexOf("busy@acme.test", StringComparison.Ordinal), Is.LessThan(page.IndexOf("idle@acme.test", StringComparison.Ordinal)));
        var up = await Admin.GetTextAsync("/Admin/Users?s=organizations");
        Assert.That(up.IndexOf("idle@acme.test", StringComparison.Ordinal), Is.LessThan(up.IndexOf("busy@acme.test", StringComparison.Ordinal)));
    }

    [Test]
    public async Task A_disabled_user_cannot_sign_in_and_their_session_ends()
    {
        var userId = await CreateUserAsync("leaver@acme.test");
        var leaver = await SignedInAsync("leaver@acme.test");
        using (var disable = await Admin.PostFormAsync("/Admin/Users?handler=Disable", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = userId.ToString() }, tokenPage: "/Admin/Users"))
            Assert.That(disable.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        using (var session = await leaver.GetAsync("/"))
            Assert.That(session.RedirectPath(), Does.StartWith("/Account/SignIn"), "the session has ended");
        using (var signIn = await NewClient().SignInAsync("leaver@acme.test", Password))
            Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await Admin.GetTextAsync("/Admin/Users?q=leaver"), Does.Contain("Disabled"));

        using (var enable = await Admin.PostFormAsync("/Admin/Users?handler=Enable", new Dictionary<string, string> { ["userId"] = userId.ToString() }, tokenPage: "/Admin/Users"))
            Assert.That(enable.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        await SignedInAsync("leaver@acme.test");
        await using var db = Db();
        Assert.That(await db.QueryAsync<string>("SELECT action FROM audit_event WHERE subject = 'leaver@acme.test' AND action LIKE 'user.%' ORDER BY id"), Is.EqualTo(new[] { "user.disabled", "user.enabled" }));
    }

    [Test]
    public async Task The_server_admin_cannot_disable_themself()
    {
        await using var db = Db();
        var adminId = await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @AdminEmail", new { AdminEmail });
        using var response = await Admin.PostFormAsync("/Admin/Users?handler=Disable", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = adminId.ToString() }, tokenPage: "/Admin/Users");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ConsoleClient.TextOf(response), Does.Contain("You cannot disable your own account."));
        Assert.That(await db.ExecuteScalarAsync<bool>("SELECT disabled FROM user_account WHERE id = @adminId", new { adminId }), Is.False);
    }
}
