using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Core.Security;
using LicenseServer.Data.Accounts;
using LicenseServer.Data.Activation;
using LicenseServer.Data.Licenses;
using LicenseServer.Data.Organizations;
using LicenseServer.Data.Sessions;
using LicenseServer.Web.Accounts;
using LicenseServer.Web.Activation;
using LicenseServer.Web.Hosting;

namespace LicenseServer.Web.Licenses;

public sealed record IssuedToken(string Token, DateTimeOffset ExpiresAt, string Email, IReadOnlyList<MyOrganizationRow> Organizations);

public sealed record IssuedLease(string Product, string MachineId, long OrganizationId, DateTimeOffset ExpiresAt, string Lease);

/// <summary>A floating seat: its session, and the grant signed with the server key that a client verifies with the vendor key.</summary>
public sealed record IssuedSession(Guid SessionId, int HeartbeatIntervalSeconds, DateTimeOffset ExpiresAt, string Grant);

/// <summary>What the client API does: sign-in for tokens, per-user activations with signed leases, floating sessions.</summary>
public sealed class ClientLicenseService(
    AccountService accounts,
    ClientRepository clients,
    MachineActivationRepository machines,
    OrganizationRepository organizations,
    FloatingSessions floating,
    ServerLicenseRepository serverLicense,
    ActivationService activation,
    ClockGuard clockGuard,
    SeatWatch seats,
    HeartbeatBatcher heartbeats,
    ReleaseBatcher releases,
    RenewalBatcher renewals,
    EffectiveLimits limits,
    KitOptions options,
    TimeProvider clock)
{
    private ClientOptions Limits => options.Clients;

    /// <summary>Null when the sign-in was refused; the result says why.</summary>
    public async Task<(IssuedToken? Token, SignInResult Result)> LoginAsync(string email, string password, string address)
    {
        var result = await accounts.SignInAsync(email, password, address);
        if (result.Status != SignInStatus.Success) return (null, result);
        var account = result.Account!;
        if (account.MustChangePassword)
            throw new LicenseRuleException("password_change_required",
                "This account's password was set by an administrator. Sign in to the console once and choose a new password, then try again.");
        return (await IssueTokenAsync(account), result);
    }

    /// <summary>A bearer token for a person who has just signed in (with a password, or through the provider).</summary>
    public async Task<IssuedToken> IssueTokenAsync(UserAccountRow account)
    {
        var token = SecretToken.New();
        var expiresAt = clock.GetUtcNow().AddDays(Limits.TokenDays);
        await clients.CreateTokenAsync(account.Id, account.SecurityStamp, SecretToken.Hash(token), expiresAt);
        return new IssuedToken(token, expiresAt, account.Email, await organizations.ListForUserAsync(account.Id));
    }

    public Task<ClientCaller?> CallerByTokenAsync(string token) =>
        SecretToken.LooksValid(token) ? clients.FindByTokenAsync(SecretToken.Hash(token)) : Task.FromResult<ClientCaller?>(null);

    public Task LogoutAsync(string token) => clients.RevokeTokenAsync(SecretToken.Hash(token));

    public Task<(ClientCaller Caller, string? Refusal)?> CallerByApiKeyAsync(string key) =>
        ApiKeyToken.LooksValid(key) ? clients.FindByApiKeyAsync(ApiKeyToken.Hash(key)) : Task.FromResult<(ClientCaller, string?)?>(null);

    public Task<IReadOnlyList<MyOrganizationRow>> OrganizationsAsync(ClientCaller caller) => organizations.ListForUserAsync(caller.UserId);

    /// <summary>Activates (idempotently) and returns a lease signed with the server key, with the vendor's proof for it.</summary>
    public async Task<IssuedLease> ActivateAsync(ClientCaller caller, long organizationId, string product, string machineId)
    {
        clockGuard.Require();
        var now = clock.GetUtcNow();
        var inForce = await limits.ForAsync(product);
        var expiresAt = now.AddDays(inForce.Effective.LeaseDays);
        // The seat is the user's assignment: an activation takes none, but its refusals are recorded.
        var grant = await seats.TakeAsync(organizationId, product, caller.UserId, machineId,
            () => machines.ActivateAsync(organizationId, caller.UserId, product, machineId, expiresAt, inForce.Effective.MachinesPerUser,
                inForce.Churn, inForce.VendorChurn), takesSeat: false);
        return await LeaseAsync(grant, machineId, now, expiresAt);
    }

    /// <summary>
    /// Per-user activation for a bearer token, in one round trip when the machine is active and every check passes (a
    /// renewal, the hot case); otherwise as <see cref="ActivateAsync"/>, with the caller found in that
    /// round trip. Null when the token was refused.
    /// </summary>
    public async Task<IssuedLease?> ActivateByTokenAsync(string token, long organizationId, string product, string machineId)
    {
        if (!SecretToken.LooksValid(token)) return null;
        clockGuard.Require();
        var now = clock.GetUtcNow();
        var expiresAt = now.AddDays((await limits.ForAsync(product)).Effective.LeaseDays);
        var renewal = await renewals.RenewAsync(SecretToken.Hash(token), organizationId, product, machineId, expiresAt);
        if (renewal is null) return null;
        return renewal.Grant is { } grant
            ? await LeaseAsync(grant, machineId, now, expiresAt)
            : await ActivateAsync(renewal.Caller, organizationId, product, machineId);
    }

    /// <summary>
    /// The lease of a grant, signed with the server key; it never outlives the product or the server's license,
    /// nor the lease days that the .lic it carries allows.
    /// </summary>
    private async Task<IssuedLease> LeaseAsync(ActivationGrant grant, string machineId, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        var longest = now.AddDays(limits.ForLicense(grant.VendorLicense, grant.Product.Code).Effective.LeaseDays);
        if (longest < expiresAt) expiresAt = longest;
        if (grant.Product.ExpiresAt is { } end && end < expiresAt) expiresAt = end;
        if (grant.LicenseValidUntil is { } until && until < expiresAt) expiresAt = until;
        var identity = await activation.EnsureIdentityAsync();
        var payload = new OfflineLicensePayload(Guid.NewGuid(), grant.Product.Code, grant.Product.Name, grant.Product.Kind, grant.OrganizationId,
            grant.OrganizationName, machineId, now, expiresAt, identity.InstallationId, identity.ServerPublicKey, grant.Email);
        var lease = LeaseFile.Sign(payload, await activation.ServerKeyAsync(), grant.VendorLicense);
        return new IssuedLease(grant.Product.Code, machineId, grant.OrganizationId, expiresAt, lease);
    }

    public async Task DeactivateAsync(ClientCaller caller, long organizationId, string product, string machineId)
    {
        if (await machines.DeactivateAsync(organizationId, caller.UserId, product, machineId)) return;
        // Only the caller's own activations are ever touched; a non-member is told so, as when activating.
        if (await organizations.MembershipAsync(organizationId, caller.UserId) is null)
            throw new LicenseRuleException("not_a_member", "You are not a member of this organization.");
        throw new LicenseRuleException("not_activated", $"{product} is not activated on machine {machineId}.");
    }

    /// <summary>
    /// Floating checkout for the owner of an API key, checked in the same statement that takes the seat. Null when the key
    /// was refused: the caller's key checks say why.
    /// </summary>
    public async Task<IssuedSession?> CheckoutAsync(string apiKey, string product, string machineId, string processId, Guid? sessionId)
    {
        if (!ApiKeyToken.LooksValid(apiKey)) return null;
        clockGuard.Require();
        var lease = (await limits.ForAsync(product)).Effective.SessionLeaseSeconds;
        var checkout = await floating.CheckoutFloatingAsync(ApiKeyToken.Hash(apiKey), product, machineId, processId, sessionId,
            TimeSpan.FromSeconds(lease));
        if (checkout is null) return null;
        if (checkout.Refusal is { } refusal)
        {
            if (refusal.IsSeatRefusal()) await seats.RefusedAsync(checkout.OrganizationId, product, refusal.Code, checkout.UserId, machineId);
            throw refusal;
        }
        seats.Taken(checkout.OrganizationId, product);
        var session = new SessionFacts(checkout.OrganizationId, product, machineId, processId);
        return await SessionAsync(checkout.SessionId!.Value, session, checkout.IssuedAt, checkout.ExpiresAt, lease, checkout.LicenseIssuedAt);
    }

    /// <summary>
    /// Floating sessions' hot path: the key is checked in the same batched statement that renews the session. Null when
    /// it was not renewed: the caller's key checks say why, or else <see cref="SessionExpired"/>.
    /// </summary>
    public async Task<IssuedSession?> HeartbeatAsync(string apiKey, Guid sessionId)
    {
        if (!ApiKeyToken.LooksValid(apiKey)) return null;
        clockGuard.Require();
        var lease = await limits.HeartbeatLeaseSecondsAsync();
        var now = clock.GetUtcNow();
        var expiresAt = now.AddSeconds(lease);
        return await heartbeats.BeatAsync(sessionId, ApiKeyToken.Hash(apiKey), expiresAt) is { } session
            ? await SessionAsync(sessionId, session, now, expiresAt, lease, licenseIssuedAt: null)
            : null;
    }

    /// <summary>
    /// A floating seat with its grant, signed with the server key and carrying the .lic that vouches for it.
    /// The grant never outlives the .lic or the product: a session that would is granted up to their end.
    /// </summary>
    private async Task<IssuedSession> SessionAsync(Guid sessionId, SessionFacts session, DateTimeOffset issuedAt, DateTimeOffset expiresAt, int leaseSeconds,
        DateTime? licenseIssuedAt)
    {
        var license = await limits.ActiveLicenseAsync(licenseIssuedAt)
            ?? throw new InvalidOperationException("A seat was granted while the server has no license.");
        DateTimeOffset?[] ends = [expiresAt, license.Payload.ValidUntil, license.Payload.Product(session.ProductCode)?.ExpiresAt];
        var grantEnd = ends.Where(e => e is not null).Min()!.Value;
        var identity = await activation.EnsureIdentityAsync();
        var payload = new FloatingGrantPayload(FloatingGrantFile.FileKind, sessionId, session.OrganizationId, session.ProductCode, ProductKind.Floating,
            session.MachineId, session.ProcessId, issuedAt, grantEnd, identity.InstallationId, identity.ServerPublicKey);
        var grant = FloatingGrantFile.Sign(payload, await activation.ServerKeyAsync(), license.Text);
        return new IssuedSession(sessionId, HeartbeatSeconds(leaseSeconds), grantEnd, grant);
    }

    /// <summary>At least two heartbeats within a session's lease, however short the vendor's license makes it.</summary>
    private int HeartbeatSeconds(int leaseSeconds) => Math.Max(1, Math.Min(Limits.HeartbeatSeconds, leaseSeconds / 2));

    /// <summary>Why a heartbeat with a good key renewed nothing: the server's license is not in force, else the session is gone.</summary>
    public async Task<LicenseRuleException> HeartbeatRefusedAsync()
    {
        await serverLicense.RequireInForceAsync(clock.GetUtcNow());
        return SessionExpired();
    }

    /// <summary>A heartbeat with a good key that renewed nothing: the session ended or expired, or its product did.</summary>
    private static LicenseRuleException SessionExpired() => new("session_expired",
        "This session has ended or missed its heartbeats past the grace period; its seat is free. Check out a new session.");

    /// <summary>Releases a session of the API key's owner; false when the key was refused or the session is not theirs.</summary>
    public async Task<bool> ReleaseAsync(string apiKey, Guid sessionId) =>
        ApiKeyToken.LooksValid(apiKey) && await releases.ReleaseAsync(sessionId, ApiKeyToken.Hash(apiKey));

    public static LicenseRuleException SessionNotFound() => new("session_not_found", "There is no such session for this API key.");

    public async Task<(string Version, string InstallationId, string ServerPublicKey, string? VendorLicense)> ServerInfoAsync()
    {
        var identity = await activation.EnsureIdentityAsync();
        return (ServerHost.Version, identity.InstallationId, identity.ServerPublicKey, (await serverLicense.GetAsync())?.FileText);
    }
}
