using System.Net;
using LicenseServer.IntegrationTests.Support;

namespace LicenseServer.IntegrationTests.Accounts;

/// <summary>
/// The server admin deletes a user: asked first with what it takes; then removed from every organization by the
/// rules of removing a member, unable to sign in or use a token or key, their email free again, and the audit
/// still naming them.
/// </summary>
public sealed class UserDeletionTests : SeatRuleTest
{
    private const string Users = "/Admin/Users";

    private Task<HttpResponseMessage> DeleteAsync(long userId, bool confirmed = true) =>
        Admin.PostFormAsync(Users + "?handler=Delete",
            confirmed ? new Dictionary<string, string> { ["userId"] = $"{userId}", ["confirmed"] = "true" } : new Dictionary<string, string> { ["userId"] = $"{userId}" },
            tokenPage: Users);

    [Test]
    public async Task Deleting_a_user_asks_first_then_recalls_ends_and_revokes_everything_and_frees_the_email()
    {
        var ann = await KreMemberAsync("ann@acme.test");
        using (var assigned = await AssignAsync(Admin, "ann@acme.test")) Redirected(assigned);
        var ide = await SignedInKitClientAsync("ann@acme.test");
        await ide.ActivateAsync(Org, "KSE", "ANN-PC");
        var engine = await ApiKeyClientAsync("ann@acme.test");
        var session = await engine.CheckoutAsync("KRE", "ANN-CI", "1", autoHeartbeat: false);

        using (var asked = await DeleteAsync(ann, confirmed: false))
            Assert.That(await ConsoleClient.TextOf(asked), Does.Contain("Delete ann@acme.test?")
                .And.Contain("Removes them from 1 organization by the rules of removing a member: recalls 2 licenses, deactivates 1 machine, ends 1 session and revokes 1 API key."));
        Assert.That(await CountAsync("SELECT count(*) FROM organization_member WHERE user_id = @ann", new { ann }), Is.EqualTo(1), "nothing changes before the confirmation");

        using (var deleted = await DeleteAsync(ann)) Redirected(deleted, await ConsoleClient.TextOf(deleted));
        Assert.That(await CountAsync("SELECT count(*) FROM organization_member WHERE user_id = @ann", new { ann }), Is.Zero);
        Assert.That(await CountAsync("SELECT count(*) FROM license_assignment WHERE user_id = @ann", new { ann })
                    + await CountAsync("SELECT count(*) FROM floating_assignment WHERE user_id = @ann", new { ann }), Is.Zero);
        Assert.That(Refused(() => session.HeartbeatAsync()).Code, Is.EqualTo("api_key_revoked"), "their key and its session ended");
        Assert.That(await CountAsync("SELECT count(*) FROM floating_session WHERE user_id = @ann AND ended_at IS NULL", new { ann }), Is.Zero);
        Assert.That(Refused(() => engine.CheckoutAsync("KRE", "ANN-CI", "2", autoHeartbeat: false)).Code, Is.EqualTo("api_key_revoked"));
        Assert.That(Refused(() => ide.ActivateAsync(Org, "KSE", "ANN-PC")).Code, Is.EqualTo("token_invalid"), "their client token no longer works");
        using (var signIn = await NewClient().SignInAsync("ann@acme.test", Password))
            Assert.That(signIn.StatusCode, Is.Not.EqualTo(HttpStatusCode.Redirect), "the deleted account cannot sign in");
        Assert.That(await Admin.GetTextAsync(Users + "?q=ann"), Does.Not.Contain("ann@acme.test"), "All users leaves deleted accounts out");

        Assert.That(await AuditAsync("user.deleted"), Is.EqualTo(new[] { "user.deleted ann@acme.test removed from 1 organization by admin@acme.test" }));
        Assert.That(await AuditAsync("license.unassigned"), Has.Some.EqualTo("license.unassigned ann@acme.test KSE (user deleted) by admin@acme.test"));

        // The email is free: the same person can be invited (or created) again, a new account without the old one's past.
        var again = await CreateUserAsync("ann@acme.test");
        Assert.That(again, Is.Not.EqualTo(ann));
        using (var twice = await DeleteAsync(ann))
            Assert.That(await ConsoleClient.TextOf(twice), Does.Contain("That user does not exist."));

        // The deleted row cannot be brought back: not enabled, given a password, or invited under its new name.
        foreach (var (handler, fields) in new[] { ("Enable", new Dictionary<string, string>()), ("OneTimePassword", new() { ["confirmed"] = "true" }) })
        {
            fields["userId"] = $"{ann}";
            using var revived = await Admin.PostFormAsync($"{Users}?handler={handler}", fields, tokenPage: Users);
            Assert.That(await ConsoleClient.TextOf(revived), Does.Contain("That user does not exist."), handler);
        }
        string tombstone;
        await using (var db = Db())
            tombstone = (await Dapper.SqlMapper.ExecuteScalarAsync<string>(db, "SELECT email FROM user_account WHERE id = @ann", new { ann }))!;
        Assert.That(tombstone, Is.EqualTo($"ann@acme.test (deleted user {ann})"));
        using (var invited = await Admin.PostFormAsync($"/Organizations/{Org}/Users?handler=Invite", new Dictionary<string, string> { ["emails"] = tombstone },
                   tokenPage: $"/Organizations/{Org}/Users"))
            Assert.That(await CountAsync("SELECT count(*) FROM invitation WHERE user_id = @ann", new { ann }), Is.Zero, "no invitation reaches the deleted row");
        Assert.That(await CountAsync("SELECT count(*) FROM user_account WHERE id = @ann AND disabled AND password IS NULL AND deleted_at IS NOT NULL", new { ann }), Is.EqualTo(1));
    }

    [Test]
    public async Task The_default_account_yourself_and_an_organizations_only_Owner_are_not_deleted()
    {
        var owner = await CreateUserAsync("owner@globex.test");
        var globex = await CreateOrganizationAsync(Admin, "Globex");
        await AddMemberAsync(globex, "owner@globex.test", role: "owner");
        using (var demoted = await Admin.PostFormAsync($"/Organizations/{globex}/Users?handler=Role",
                   new Dictionary<string, string> { ["userId"] = $"{await UserIdAsync(AdminEmail)}", ["role"] = "member" }, tokenPage: $"/Organizations/{globex}/Users"))
            Redirected(demoted, await ConsoleClient.TextOf(demoted));

        using (var lastOwner = await DeleteAsync(owner))
        {
            Assert.That(lastOwner.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await ConsoleClient.TextOf(lastOwner), Does.Contain("They are the only Owner of Globex: make another member its Owner first. Nothing was deleted."));
        }
        Assert.That(await CountAsync("SELECT count(*) FROM organization_member WHERE user_id = @owner", new { owner }), Is.EqualTo(1));
        using (var self = await DeleteAsync(await UserIdAsync(AdminEmail)))
            Assert.That(await ConsoleClient.TextOf(self), Does.Contain("You cannot delete your own account."));

        // Another server admin may not delete the default account either.
        var second = await CreateUserAsync("second-admin@acme.test");
        await using (var db = Db())
            await Dapper.SqlMapper.ExecuteAsync(db, "UPDATE user_account SET is_server_admin = true WHERE id = @second", new { second });
        var secondAdmin = await SignedInAsync("second-admin@acme.test");
        using (var asDefault = await secondAdmin.PostFormAsync(Users + "?handler=Delete",
                   new Dictionary<string, string> { ["userId"] = $"{await UserIdAsync(AdminEmail)}", ["confirmed"] = "true" }, tokenPage: Users))
            Assert.That(await ConsoleClient.TextOf(asDefault), Does.Contain("is the default account"));
        Assert.That(await AuditAsync("user.deleted"), Is.Empty);
    }
}
