namespace LicenseServer.Core.Organizations;

/// <summary>The states the Pending Activations table shows.</summary>
public enum InvitationState { MustSetPassword, NotAcceptedYet, Accepted, Expired, Revoked }

public static class InvitationRules
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(5);
    public const int MaxEmailsPerRequest = 100;

    public static InvitationState StateOf(DateTimeOffset now, DateTimeOffset expiresAt, DateTimeOffset? acceptedAt, DateTimeOffset? revokedAt, bool userHasPassword) =>
        revokedAt is not null ? InvitationState.Revoked
        : acceptedAt is not null ? InvitationState.Accepted
        : expiresAt <= now ? InvitationState.Expired
        : userHasPassword ? InvitationState.NotAcceptedYet
        : InvitationState.MustSetPassword;

    public static string Describe(InvitationState state) => state switch
    {
        InvitationState.MustSetPassword => "Must set a password",
        InvitationState.NotAcceptedYet => "Not accepted yet",
        InvitationState.Accepted => "Accepted",
        InvitationState.Expired => "Expired",
        _ => "Revoked",
    };
}
