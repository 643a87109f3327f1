using LicenseServer.Core.Licenses;
using LicenseServer.Data.Licenses;
using Npgsql;

namespace LicenseServer.Data.Sessions;

/// <summary>
/// Floating seats, one for each process: checked out under the pool's lock by the database function
/// <c>kit_checkout_decide</c> (the rules, in order, are there), alone or batched with the checkouts that arrive
/// meanwhile (<see cref="CheckoutBatcher"/>), and the refusal worded here. Heartbeats and releases touch only the
/// session's own row (<see cref="HeartbeatBatcher"/>, <see cref="ReleaseBatcher"/>).
/// </summary>
public sealed class FloatingSessions(NpgsqlDataSource db, TimeProvider clock) : IAsyncDisposable
{
    private readonly CheckoutBatcher _checkouts = new(db);

    /// <summary>
    /// A checkout's result: who asked, and the seat (<paramref name="SessionId"/>, from <paramref name="IssuedAt"/>
    /// until <paramref name="ExpiresAt"/>) or why not (<paramref name="Refusal"/>); and when the server's license
    /// that the decision read was issued, to tell which .lic vouches for the seat.
    /// </summary>
    public sealed record FloatingCheckout(long OrganizationId, long UserId, Guid? SessionId, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt,
        LicenseRuleException? Refusal, DateTime? LicenseIssuedAt);

    /// <summary>What <c>kit_checkout_decide</c> answers: the outcome, and what its rules read.</summary>
    internal sealed class CheckoutRow
    {
        /// <summary>The call's place in its batch (<see cref="CheckoutBatcher"/>); unused alone.</summary>
        public int N { get; init; }
        public string Outcome { get; init; } = "";
        public long? CallerOrg { get; init; }
        public long? CallerUser { get; init; }
        public Guid? SessionId { get; init; }
        public DateTime? LicenseIssuedAt { get; init; }
        public DateTimeOffset? LicenseValidUntil { get; init; }
        public string? ProductName { get; init; }
        public string? ProductKind { get; init; }
        public string? ProductSubscription { get; init; }
        public DateTimeOffset? ProductExpiresAt { get; init; }
        public int? Licensed { get; init; }
        public int? Quota { get; init; }
        public int? InUse { get; init; }
        public long? Shared { get; init; }
        public string? DisabledReason { get; init; }
        public int? Registered { get; init; }
        public long[] TeamIds { get; init; } = [];
        public string[] TeamNames { get; init; } = [];
        public int[] TeamSeats { get; init; } = [];
        public int[] TeamFilled { get; init; } = [];
        public bool[] TeamHasUser { get; init; } = [];
    }

    /// <summary>
    /// A floating seat for one process, in one statement and so one round trip with its commit: the
    /// database function locks the pool, applies the rules in the order they are listed there, and writes
    /// only a granted seat, so the pool's lock is never held across a round trip to this server. A repeated
    /// session id of the same user and machine reuses its seat; a new machine is registered only while
    /// registered machines stay within the quota. A refusal is thrown, worded here from what the function read.
    /// </summary>
    public async Task<(Guid SessionId, DateTimeOffset ExpiresAt)> CheckoutFloatingAsync(long organizationId, string productCode, long userId,
        string machineId, string processId, Guid? sessionId, TimeSpan lease)
    {
        var checkout = await CheckoutAsync(null, organizationId, userId, productCode, machineId, processId, sessionId, lease)
            ?? throw new InvalidOperationException("A checkout without an API key was refused for its key.");
        return checkout.Refusal is { } refusal ? throw refusal : (checkout.SessionId!.Value, checkout.ExpiresAt);
    }

    /// <summary>
    /// The same for the owner of the API key whose hash is <paramref name="keyHash"/>, checked in the same
    /// statement (floating sessions' hot path): null when the key is unknown or revoked or its owner no longer an enabled
    /// member; otherwise who the caller was, and the seat or the refusal.
    /// </summary>
    public Task<FloatingCheckout?> CheckoutFloatingAsync(byte[] keyHash, string productCode, string machineId, string processId, Guid? sessionId, TimeSpan lease) =>
        CheckoutAsync(keyHash, 0, 0, productCode, machineId, processId, sessionId, lease);

    /// <summary>
    /// Null when the function refused the API key (<c>api_key</c>). A checkout with an API key, the client
    /// API's hot path, joins the next batch; one on behalf of a member runs alone (<see cref="CheckoutBatcher"/>).
    /// The id proposed for the session is the client's own session id when it sent one, which makes the
    /// client's own retries of a lost answer safe.
    /// </summary>
    private async Task<FloatingCheckout?> CheckoutAsync(byte[]? keyHash, long organizationId, long userId, string productCode,
        string machineId, string processId, Guid? sessionId, TimeSpan lease)
    {
        var now = clock.GetUtcNow();
        var call = new CheckoutCall(keyHash, organizationId, userId, productCode, machineId, processId, sessionId, now, now + lease);
        var row = await _checkouts.CheckoutAsync(call);
        return row.Outcome switch
        {
            "api_key" => null,
            "granted" or "reused" => new FloatingCheckout(row.CallerOrg!.Value, row.CallerUser!.Value, row.SessionId, now, call.ExpiresAt, null, row.LicenseIssuedAt),
            _ => new FloatingCheckout(row.CallerOrg!.Value, row.CallerUser!.Value, null, now, call.ExpiresAt,
                CheckoutRefusal(row, productCode, machineId, row.CallerUser!.Value), row.LicenseIssuedAt),
        };
    }

    /// <summary>The refusal the database function decided, worded from the numbers it read (<see cref="Refusals"/>).</summary>
    private static LicenseRuleException CheckoutRefusal(CheckoutRow row, string productCode, string machineId, long userId) =>
        Refusals.Word(row.Outcome, new RefusalFacts(productCode)
        {
            LicenseValidUntil = row.LicenseValidUntil,
            ProductEndedAt = row.ProductExpiresAt,
            Licensed = row.Licensed ?? 0,
            Shared = row.Shared ?? 0,
            Quota = row.Quota ?? 0,
            Available = Math.Max(0, (row.Quota ?? 0) - (row.InUse ?? 0)),
            MachineId = machineId,
            DisabledReason = row.DisabledReason,
            Registered = row.Registered ?? 0,
            Reservations = row.TeamIds.Select((team, i) => new TeamReservation(team, row.TeamNames[i], row.TeamSeats[i], row.TeamFilled[i],
                row.TeamHasUser[i] ? [userId] : [])).ToList(),
        });

    public ValueTask DisposeAsync() => _checkouts.DisposeAsync();
}
