using LicenseServer.Core.Organizations;
using LicenseServer.Core.Security;
using LicenseServer.Data.Database;
using LicenseServer.Data.Organizations;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Mail;

namespace LicenseServer.Web.Organizations;

public sealed record InvitationView(InvitationRow Row, InvitationState State);

/// <summary>A link just made. <c>MailError</c> is null when the mail went out (or no mail server is set: see <c>Mailed</c>).</summary>
public sealed record SentInvitation(string Email, string Link, bool Mailed, string? MailError);

public sealed record InviteResult(IReadOnlyList<string> Problems, IReadOnlyList<SentInvitation> Sent);

/// <summary>What a person who opens an invitation link may do next.</summary>
public enum LinkStatus { Invalid, Used, Revoked, Expired, WrongAccount, SetPassword, SignIn, Join }

public sealed record InvitationLink(LinkStatus Status, InvitationRow? Row)
{
    public string Message => Status switch
    {
        LinkStatus.Used => "This link has been used to reset password.",
        LinkStatus.WrongAccount => "Cannot accept the invitation.",
        LinkStatus.Revoked => "This invitation has been revoked. Ask an Owner or Admin of the organization for a new one.",
        LinkStatus.Expired => "This invitation link has expired. Ask an Owner or Admin of the organization to resend it.",
        LinkStatus.Invalid => "This invitation link is not valid. Check that you copied the whole link.",
        _ => "",
    };
}

/// <summary>Invite one or many, Pending Activations, resend, revoke, accept.</summary>
public sealed class InvitationService(InvitationRepository invitations, MailService mail, Links links, TimeProvider clock)
{
    public async Task<ListPage<InvitationView>> ListAsync(Membership actor, ListQuery query)
    {
        var now = clock.GetUtcNow();
        var page = await invitations.ListAsync(actor.OrganizationId, query);
        return new ListPage<InvitationView>(page.Rows.Select(r => new InvitationView(r, StateOf(r, now))).ToList(), page.Total, page.Page, page.Sort);
    }

    public async Task<InviteResult> InviteAsync(Membership actor, string? emails)
    {
        var parsed = EmailList.Parse(emails, InvitationRules.MaxEmailsPerRequest);
        if (!parsed.Ok) return new InviteResult(parsed.Problems, []);
        var now = clock.GetUtcNow();
        var tokens = parsed.Emails.Select(e => (Email: e, Token: SecretToken.New())).ToList();
        var (problems, done) = await invitations.CreateAsync(actor.OrganizationId,
            tokens.Select(t => (t.Email, SecretToken.Hash(t.Token))).ToList(), actor.UserId, now, now + InvitationRules.Lifetime);
        if (!done) return new InviteResult(problems, []);

        var settings = await mail.GetAsync(actor.OrganizationId);
        var sent = new List<SentInvitation>();
        foreach (var (email, token) in tokens) sent.Add(await DeliverAsync(settings, actor, email, token));
        return new InviteResult([], sent);
    }

    /// <summary>Resend: a new link (the old one stops working), mailed where a mail server is set.</summary>
    public async Task<SentInvitation?> ResendAsync(Membership actor, long invitationId)
    {
        var row = await invitations.FindAsync(actor.OrganizationId, invitationId);
        if (row is null) return null;
        var token = SecretToken.New();
        var now = clock.GetUtcNow();
        if (!await invitations.RenewAsync(actor.OrganizationId, invitationId, SecretToken.Hash(token), actor.UserId, now, now + InvitationRules.Lifetime))
            return null;
        return await DeliverAsync(await mail.GetAsync(actor.OrganizationId), actor, row.Email, token);
    }

    public Task<bool> RevokeAsync(Membership actor, long invitationId) =>
        invitations.RevokeAsync(actor.OrganizationId, invitationId, actor.UserId, clock.GetUtcNow());

    /// <summary>What the link allows for the person who opened it (signed in as <paramref name="signedInEmail"/>, or not).</summary>
    public async Task<InvitationLink> OpenAsync(string? token, string? signedInEmail)
    {
        if (!SecretToken.LooksValid(token)) return new InvitationLink(LinkStatus.Invalid, null);
        var row = await invitations.FindByTokenAsync(SecretToken.Hash(token!));
        if (row is null) return new InvitationLink(LinkStatus.Invalid, null);
        var status = StateOf(row, clock.GetUtcNow()) switch
        {
            InvitationState.Accepted => LinkStatus.Used,
            InvitationState.Revoked => LinkStatus.Revoked,
            InvitationState.Expired => LinkStatus.Expired,
            _ when signedInEmail is not null && !string.Equals(signedInEmail, row.Email, StringComparison.OrdinalIgnoreCase) => LinkStatus.WrongAccount,
            InvitationState.MustSetPassword => LinkStatus.SetPassword,
            _ => signedInEmail is null ? LinkStatus.SignIn : LinkStatus.Join,
        };
        return new InvitationLink(status, row);
    }

    /// <summary>A new user sets a password and joins, in one step. Not accepted: the link says why.</summary>
    public async Task<(bool Accepted, InvitationLink Link)> AcceptWithPasswordAsync(string? token, string? signedInEmail, string? password, string? confirmation)
    {
        var link = await OpenAsync(token, signedInEmail);
        if (link.Status != LinkStatus.SetPassword) return (false, link);
        AccountService.CheckNewPassword(password ?? "", confirmation ?? "");
        var outcome = await invitations.AcceptAsync(link.Row!.Id, AccountService.Hash(password!), clock.GetUtcNow());
        return outcome == AcceptOutcome.Accepted ? (true, link) : (false, await OpenAsync(token, signedInEmail));
    }

    /// <summary>An existing user, signed in with the invited email, joins.</summary>
    public async Task<(bool Accepted, InvitationLink Link)> AcceptAsSignedInAsync(string? token, string signedInEmail)
    {
        var link = await OpenAsync(token, signedInEmail);
        if (link.Status != LinkStatus.Join) return (false, link);
        var outcome = await invitations.AcceptAsync(link.Row!.Id, null, clock.GetUtcNow());
        return outcome == AcceptOutcome.Accepted ? (true, link) : (false, await OpenAsync(token, signedInEmail));
    }

    private static InvitationState StateOf(InvitationRow r, DateTimeOffset now) =>
        InvitationRules.StateOf(now, r.ExpiresAt, r.AcceptedAt, r.RevokedAt, r.UserHasPassword);

    private async Task<SentInvitation> DeliverAsync(MailSettings? settings, Membership actor, string email, string token)
    {
        var link = links.Invitation(token);
        if (settings is null) return new SentInvitation(email, link, false, null);
        try
        {
            await mail.SendAsync(settings, email, $"You are invited to join {actor.OrganizationName} on Kit License Server",
                $"""
                Hello,

                You have been invited to join the organization "{actor.OrganizationName}" on Kit License Server.
                Open this link to accept the invitation (it works once and expires in {InvitationRules.Lifetime.TotalDays:0} days):

                {link}

                If you did not expect this invitation, you can ignore this email.
                """);
            return new SentInvitation(email, link, true, null);
        }
        catch (MailFailedException e)
        {
            return new SentInvitation(email, link, false, e.Message);
        }
    }
}
