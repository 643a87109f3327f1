using System.Net;
using Dapper;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Organizations;

public class OrganizationTests : ConsoleTest
{
    private async Task<string> SnapshotAsync()
    {
        await using var db = Db();
        return await db.ExecuteScalarAsync<string>("""
            SELECT concat_ws('|',
              (SELECT string_agg(concat_ws(',', id, name), ';' ORDER BY id) FROM organization),
              (SELECT string_agg(concat_ws(',', organization_id, user_id, role, can_manage_licenses), ';' ORDER BY organization_id, user_id) FROM organization_member),
              (SELECT string_agg(concat_ws(',', id, email, token_hash, expires_at, accepted_at, revoked_at), ';' ORDER BY id) FROM invitation),
              (SELECT string_agg(concat_ws(',', id, name), ';' ORDER BY id) FROM team),
              (SELECT string_agg(concat_ws(',', team_id, user_id), ';' ORDER BY team_id, user_id) FROM team_member),
              (SELECT string_agg(concat_ws(',', organization_id, host, port, sender), ';') FROM mail_settings),
              (SELECT string_agg(concat_ws(',', id, disabled, security_stamp), ';' ORDER BY id) FROM user_account),
              (SELECT count(*) FROM audit_event))
            """) ?? "";
    }

    [Test]
    public async Task The_creator_becomes_Owner_and_the_dashboard_lists_the_organization_with_its_ID()
    {
        var id = await CreateOrganizationAsync(Admin, "ACME QA");
        var page = await Admin.GetTextAsync($"/Organizations/{id}");
        Assert.That(page, Does.Contain("ACME QA").And.Contain($"<code data-testid=\"org-id\">{id}</code>").And.Contain("Owner"));
        var dashboard = await Admin.GetTextAsync("/");
        Assert.That(dashboard, Does.Contain($"<a href=\"/Organizations/{id}\">ACME QA</a>"));

        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<string>("SELECT role FROM organization_member WHERE organization_id = @id", new { id }), Is.EqualTo("owner"));
        Assert.That(await db.QueryAsync<string>("SELECT action FROM audit_event WHERE organization_id = @id ORDER BY id", new { id }),
            Is.EqualTo(new[] { "organization.created", "member.added", "license.allocated", "license.allocated" }), "the first organization receives every seat");
    }

    [Test]
    public async Task Only_a_server_admin_creates_organizations_until_the_server_admin_lets_anyone()
    {
        await CreateUserAsync("user@acme.test");
        var user = await SignedInAsync("user@acme.test");
        Assert.That(await user.GetTextAsync("/"), Does.Not.Contain("/Organizations/Create").And.Contain("A server admin creates organizations"));
        using (var page = await user.GetAsync("/Organizations/Create"))
        {
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(await ConsoleClient.TextOf(page), Does.Contain("Only a server admin can create organizations on this server."));
        }
        var before = await SnapshotAsync();
        using (var refused = await user.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = "Mine" }, tokenPage: "/"))
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await SnapshotAsync(), Is.EqualTo(before), "nothing was created");

        await LetAnyoneCreateOrganizationsAsync();
        Assert.That(await user.GetTextAsync("/"), Does.Contain("/Organizations/Create"));
        await CreateOrganizationAsync(user, "Mine");
        await using var db = Db();
        Assert.That(await db.QueryAsync<string>("SELECT subject FROM audit_event WHERE action = 'server.organization_creation' AND organization_id IS NULL"),
            Is.EqualTo(new[] { "anyone" }), "the change of the setting is audited");
        using (var bad = await Admin.PostFormAsync("/Admin/Settings?handler=Organizations", new Dictionary<string, string> { ["organizationCreation"] = "everyone!" }, tokenPage: "/Admin/Settings"))
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Rename_changes_the_name_and_bad_names_are_refused_with_nothing_stored()
    {
        var id = await CreateOrganizationAsync(Admin, "Old name");
        using (var renamed = await Admin.PostFormAsync($"/Organizations/{id}?handler=Rename", new Dictionary<string, string> { ["name"] = "  New name  " }, tokenPage: $"/Organizations/{id}"))
            Assert.That(renamed.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await Admin.GetTextAsync($"/Organizations/{id}"), Does.Contain("<h1 data-testid=\"org-name\">New name</h1>"));

        var before = await SnapshotAsync();
        foreach (var (name, message) in new[] { (new string('x', 10_000), "too long"), ("   ", "Enter a name"), ("bad\u0001name", "control characters") })
        {
            using var refused = await Admin.PostFormAsync($"/Organizations/{id}?handler=Rename", new Dictionary<string, string> { ["name"] = name }, tokenPage: $"/Organizations/{id}");
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(refused), Does.Contain(message));
            using var created = await Admin.PostFormAsync("/Organizations/Create", new Dictionary<string, string> { ["name"] = name });
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(created), Does.Contain(message));
        }
        Assert.That(await SnapshotAsync(), Is.EqualTo(before));
    }

    [Test]
    public async Task An_organization_always_keeps_at_least_one_Owner()
    {
        var id = await CreateOrganizationAsync(Admin);
        long adminId;
        await using (var db = Db()) adminId = await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @AdminEmail", new { AdminEmail });
        var users = $"/Organizations/{id}/Users";

        using (var demote = await Admin.PostFormAsync(users + "?handler=Role", new Dictionary<string, string> { ["userId"] = adminId.ToString(), ["role"] = "admin" }, tokenPage: users))
        {
            Assert.That(demote.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(demote), Does.Contain("must keep at least one Owner"));
        }
        using (var remove = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = adminId.ToString() }, tokenPage: users))
            Assert.That(await ConsoleClient.TextOf(remove), Does.Contain("must keep at least one Owner"));

        var otherId = await AddMemberAsync(id, "second@acme.test");
        using (var promote = await Admin.PostFormAsync(users + "?handler=Role", new Dictionary<string, string> { ["userId"] = otherId.ToString(), ["role"] = "owner" }, tokenPage: users))
            Assert.That(promote.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var leave = await Admin.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = adminId.ToString() }, tokenPage: users))
            Assert.That(leave.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "with another Owner, the first may go");

        await using var check = Db();
        Assert.That(await check.QueryAsync<string>("SELECT u.email FROM organization_member m JOIN user_account u ON u.id = m.user_id WHERE m.organization_id = @id AND m.role = 'owner'", new { id }),
            Is.EqualTo(new[] { "second@acme.test" }));
        Assert.That(await check.QueryAsync<string>("SELECT action FROM audit_event WHERE organization_id = @id AND action LIKE 'member.%' ORDER BY id", new { id }),
            Is.EqualTo(new[] { "member.added", "member.role_changed", "member.removed" }), "every membership change is audited");
    }

    [Test]
    public async Task Concurrent_demotions_of_two_Owners_leave_one_Owner()
    {
        var id = await CreateOrganizationAsync(Admin);
        var secondId = await AddMemberAsync(id, "second@acme.test", "owner");
        long adminId;
        await using (var db = Db()) adminId = await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @AdminEmail", new { AdminEmail });
        var second = await SignedInAsync("second@acme.test");
        var users = $"/Organizations/{id}/Users";
        var tokenA = await Admin.TokenAsync(users);
        var tokenB = await second.TokenAsync(users);

        for (var round = 0; round < 5; round++)
        {
            var a = Admin.PostFormAsync(users + "?handler=Role", new Dictionary<string, string> { ["userId"] = adminId.ToString(), ["role"] = "member", ["__RequestVerificationToken"] = tokenA }, withToken: false);
            var b = second.PostFormAsync(users + "?handler=Role", new Dictionary<string, string> { ["userId"] = secondId.ToString(), ["role"] = "member", ["__RequestVerificationToken"] = tokenB }, withToken: false);
            await Task.WhenAll(a, b);
            await using var db = Db();
            Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @id AND role = 'owner'", new { id }), Is.EqualTo(1));
            await db.ExecuteAsync("UPDATE organization_member SET role = 'owner' WHERE organization_id = @id", new { id });
        }
    }

    [Test]
    public async Task An_Admin_manages_Members_but_not_Owners()
    {
        var id = await CreateOrganizationAsync(Admin);
        await AddMemberAsync(id, "helper@acme.test", "admin");
        var memberId = await AddMemberAsync(id, "member@acme.test");
        long ownerId;
        await using (var db = Db()) ownerId = await db.ExecuteScalarAsync<long>("SELECT id FROM user_account WHERE email = @AdminEmail", new { AdminEmail });
        var helper = await SignedInAsync("helper@acme.test");
        var users = $"/Organizations/{id}/Users";

        using (var ok = await helper.PostFormAsync(users + "?handler=Role", new Dictionary<string, string> { ["userId"] = memberId.ToString(), ["role"] = "admin" }, tokenPage: users))
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using (var makeOwner = await helper.PostFormAsync(users + "?handler=Role", new Dictionary<string, string> { ["userId"] = memberId.ToString(), ["role"] = "owner" }, tokenPage: users))
            Assert.That(await ConsoleClient.TextOf(makeOwner), Does.Contain("Only an Owner can"));
        using (var removeOwner = await helper.PostFormAsync(users + "?handler=Remove", new Dictionary<string, string> { ["confirmed"] = "true", ["userId"] = ownerId.ToString() }, tokenPage: users))
            Assert.That(await ConsoleClient.TextOf(removeOwner), Does.Contain("Only an Owner can"));
        await using var check = Db();
        Assert.That(await check.ExecuteScalarAsync<long>("SELECT count(*) FROM organization_member WHERE organization_id = @id AND role = 'owner'", new { id }), Is.EqualTo(1));
    }

    [Test]
    public async Task A_Member_gets_403_on_every_management_endpoint_and_nothing_changes()
    {
        var id = await CreateOrganizationAsync(Admin);
        var memberId = await AddMemberAsync(id, "member@acme.test", canManageLicenses: true);
        var otherId = await AddMemberAsync(id, "other@acme.test");
        using (await InviteAsync(Admin, id, "pending@acme.test")) { }
        long invitationId, teamId;
        await using (var db = Db())
        {
            invitationId = await db.ExecuteScalarAsync<long>("SELECT id FROM invitation WHERE organization_id = @id", new { id });
            teamId = await db.ExecuteScalarAsync<long>("INSERT INTO team (organization_id, name) VALUES (@id, 'QA') RETURNING id", new { id });
        }
        var member = await SignedInAsync("member@acme.test");
        var org = $"/Organizations/{id}";
        var endpoints = new (string Path, Dictionary<string, string> Fields)[]
        {
            ($"{org}?handler=Rename", new() { ["name"] = "Hijacked" }),
            ($"{org}/Users?handler=Invite", new() { ["emails"] = "evil@acme.test" }),
            ($"{org}/Users?handler=Resend", new() { ["invitationId"] = invitationId.ToString() }),
            ($"{org}/Users?handler=Revoke", new() { ["confirmed"] = "true", ["invitationId"] = invitationId.ToString() }),
            ($"{org}/Users?handler=Role", new() { ["userId"] = memberId.ToString(), ["role"] = "owner" }),
            ($"{org}/Users?handler=LicensePermission", new() { ["userId"] = otherId.ToString(), ["allowed"] = "true" }),
            ($"{org}/Users?handler=Remove", new() { ["confirmed"] = "true", ["userId"] = otherId.ToString() }),
            ($"{org}/Teams?handler=Create", new() { ["name"] = "Evil team" }),
            ($"{org}/Teams?handler=Delete", new() { ["teamId"] = teamId.ToString() }),
            ($"{org}/Teams/{teamId}?handler=Rename", new() { ["name"] = "Evil" }),
            ($"{org}/Teams/{teamId}?handler=AddMember", new() { ["email"] = "member@acme.test" }),
            ($"{org}/Teams/{teamId}?handler=RemoveMember", new() { ["confirmed"] = "true", ["userId"] = memberId.ToString() }),
            ($"{org}/Settings?handler=Update", new() { ["host"] = "evil.test", ["port"] = "25", ["protocol"] = "plain", ["sender"] = "x@evil.test" }),
            ($"{org}/Settings?handler=Test", new() { ["recipient"] = "x@evil.test" }),
            ("/Admin/Users?handler=Disable", new() { ["confirmed"] = "true", ["userId"] = "1" }),
            ("/Admin/Users?handler=Enable", new() { ["userId"] = "1" }),
        };
        var before = await SnapshotAsync();
        foreach (var (path, fields) in endpoints)
        {
            using var response = await member.PostFormAsync(path, fields, tokenPage: org);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), path);
        }
        foreach (var path in new[] { $"{org}/Settings", "/Admin/Users" })
        {
            using var response = await member.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), path);
        }
        Assert.That(await SnapshotAsync(), Is.EqualTo(before), "nothing may change");
        Assert.That(await member.GetTextAsync($"{org}/Users"), Does.Not.Contain("pending@acme.test"), "a Member does not see invitations");
    }

    [Test]
    public async Task Another_organizations_pages_are_not_found_for_a_non_member()
    {
        var mine = await CreateOrganizationAsync(Admin, "Mine");
        await LetAnyoneCreateOrganizationsAsync();
        await CreateUserAsync("outsider@acme.test");
        var outsider = await SignedInAsync("outsider@acme.test");
        var theirs = await CreateOrganizationAsync(outsider, "Theirs");
        foreach (var path in new[] { $"/Organizations/{mine}", $"/Organizations/{mine}/Users", $"/Organizations/{mine}/Teams", $"/Organizations/{mine}/Settings", "/Organizations/999999" })
        {
            using var response = await outsider.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
        }
        var before = await SnapshotAsync();
        using (var post = await outsider.PostFormAsync($"/Organizations/{mine}?handler=Rename", new Dictionary<string, string> { ["name"] = "Mine now" }, tokenPage: $"/Organizations/{theirs}"))
            Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await SnapshotAsync(), Is.EqualTo(before));
    }
}
