using System.Net;
using Dapper;
using LicenseServer.Core.Security;
using LicenseServer.Data.Accounts;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Accounts;

namespace LicenseServer.IntegrationTests.Security;

/// <summary>
/// Links used for what they are not (InvitationTests and MailTests cover reused, expired, revoked and
/// tampered links, and an invitation opened by another signed-in user): a reset link's token as an
/// invitation and back, and a reset link posted with another account's email.
/// </summary>
public sealed class HostileLinkTests : SecurityTest
{
    [Test]
    public async Task A_reset_token_opens_no_invitation_and_an_invitation_token_resets_no_password()
    {
        var org = await CreateOrganizationAsync(Admin, "Link Corp");
        var memberId = await AddMemberAsync(org, VictimMember);
        var resetToken = await ResetTokenAsync(memberId);
        using var invited = await InviteAsync(Admin, org, "new@victim.test");
        var invitationToken = Uri.UnescapeDataString(new Uri(LinksIn(await invited.Content.ReadAsStringAsync())["new@victim.test"]).Query.Split("token=")[1]);
        var before = await SnapshotAsync();
        var visitor = NewClient();

        Assert.That(await visitor.GetTextAsync("/Invitation?token=" + Uri.EscapeDataString(resetToken)), Does.Contain("not valid"));
        using (var join = await visitor.PostFormAsync("/Invitation?handler=SetPassword",
                   new Dictionary<string, string> { ["token"] = resetToken, ["password"] = "taken over 1", ["confirmation"] = "taken over 1" }, tokenPage: "/Account/SignIn"))
            Assert.That(join.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "a reset token is no invitation");
        using (var reset = await visitor.PostFormAsync("/Account/ResetPassword",
                   new Dictionary<string, string> { ["token"] = invitationToken, ["password"] = "taken over 1", ["confirmation"] = "taken over 1" }, tokenPage: "/Account/SignIn"))
        {
            Assert.That(reset.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "an invitation token resets no password");
            Assert.That(await ConsoleClient.TextOf(reset), Does.Contain(PasswordResetService.Invalid));
        }
        Assert.That(DatabaseSnapshot.Changed(before, await SnapshotAsync()), Is.Empty);
        using (var old = await NewClient().SignInAsync(VictimMember, Password))
            Assert.That(old.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the member's password is unchanged");
    }

    [Test]
    public async Task A_reset_link_sets_only_its_own_accounts_password_whatever_email_comes_with_it()
    {
        var org = await CreateOrganizationAsync(Admin, "Link Corp");
        var memberId = await AddMemberAsync(org, VictimMember);
        var token = await ResetTokenAsync(memberId);
        // Posted by someone signed in as the admin, naming the admin: the link still belongs to the member.
        using (var reset = await Admin.PostFormAsync("/Account/ResetPassword",
                   new Dictionary<string, string> { ["token"] = token, ["email"] = AdminEmail, ["password"] = "member's new 1", ["confirmation"] = "member's new 1" },
                   tokenPage: "/Account/ChangePassword"))
            Assert.That(reset.RedirectPath(), Does.StartWith("/Account/SignIn"));
        using (var admin = await NewClient().SignInAsync(AdminEmail, Password))
            Assert.That(admin.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the admin's password is unchanged");
        using (var member = await NewClient().SignInAsync(VictimMember, "member's new 1"))
            Assert.That(member.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the link's own account has the new password");
        await using var db = Db();
        Assert.That(await db.ExecuteScalarAsync<long>("SELECT count(*) FROM password_reset WHERE used_at IS NULL"), Is.Zero, "and the link is used up");
    }

    /// <summary>A reset link as the forgot-password form makes one, without the mail that carries it.</summary>
    private async Task<string> ResetTokenAsync(long userId)
    {
        var token = SecretToken.New();
        var now = DateTimeOffset.UtcNow;
        await Server.Service<PasswordResetRepository>().CreateAsync(userId, SecretToken.Hash(token), now, now + PasswordResetService.Lifetime);
        return token;
    }
}
