using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;
using static LicenseServer.Data.Licenses.SeatPools;

namespace LicenseServer.Data.Licenses;

/// <summary>A floating seat for one process: checked out alone or in a batch (SeatLedger.Checkouts.cs), and its refusal worded.</summary>
public sealed partial class SeatLedger
{
    /// <summary>
    /// A checkout's result: who asked, and the seat (<paramref name="SessionId"/>, from <paramref name="IssuedAt"/>
    /// until <paramref name="ExpiresAt"/>) or why not (<paramref name="Refusal"/>); and when the server's license
    /// that the decision read was issued, to tell which .lic vouches for the seat.
    /// </summary>
    public sealed record FloatingCheckout(long OrganizationId, long UserId, Guid? SessionId, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt,
        LicenseRuleException? Refusal, DateTime? LicenseIssuedAt);

    /// <summary>What <c>kit_checkout_decide</c> answers: the outcome, and what its rules read.</summary>
    private sealed class CheckoutRow
    {
        /// <summary>The call's place in its batch (<see cref="CheckoutBatchSql"/>); unused alone.</summary>
        public int N { get; init; }
        public string Outcome { get; init; } = "";
        public long? CallerOrg { get; init; }
        public long? CallerUser { get; init; }
        public Guid? SessionId { get; init; }
        public DateTime? LicenseIssuedAt { get; init; }
        public DateTime? LicenseValidUntil { get; init; }
        public string? ProductName { get; init; }
        public string? ProductKind { get; init; }
        public string? ProductSubscription { get; init; }
        public DateTime? ProductExpiresAt { get; init; }
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

    /// <summary>One checkout: its caller read (<c>kit_checkout_read_caller</c>), then decided and written (<c>kit_checkout_decide</c>).</summary>
    private const string CheckoutSql = """
        SELECT d.*
        FROM kit_checkout_read_caller(@keyHash, @organizationId, @userId, @productCode, @machineId) c
        CROSS JOIN LATERAL kit_checkout_decide(c, @keyHash IS NOT NULL, @productCode, @machineId, @processId, @id, @existing,
                                               @now, @expiresAt, @clockSkewSeconds, false) d
        """;

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
    /// API's hot path, joins the next batch (<see cref="CheckoutBatchAsync"/>); one on behalf of a member
    /// runs alone (<see cref="CheckoutAloneAsync"/>). The id proposed for the session is the client's own
    /// session id when it sent one, which makes the client's own retries of a lost answer safe.
    /// </summary>
    private async Task<FloatingCheckout?> CheckoutAsync(byte[]? keyHash, long organizationId, long userId, string productCode,
        string machineId, string processId, Guid? sessionId, TimeSpan lease)
    {
        var now = clock.GetUtcNow();
        var call = new CheckoutCall(keyHash, organizationId, userId, productCode, machineId, processId, sessionId, sessionId ?? Guid.NewGuid(), now, now + lease);
        var row = keyHash is null ? await CheckoutAloneAsync(call) : await EnqueueAsync(call);
        return row.Outcome switch
        {
            "api_key" => null,
            "granted" or "reused" => new FloatingCheckout(row.CallerOrg!.Value, row.CallerUser!.Value, row.SessionId, now, call.ExpiresAt, null, row.LicenseIssuedAt),
            _ => new FloatingCheckout(row.CallerOrg!.Value, row.CallerUser!.Value, null, now, call.ExpiresAt,
                CheckoutRefusal(row, productCode, machineId, row.CallerUser!.Value), row.LicenseIssuedAt),
        };
    }

    /// <summary>
    /// One checkout in a statement of its own. It is safe to repeat, so it is retried while the database
    /// is unavailable (<see cref="DatabaseFaults.RetryAsync"/>): every attempt proposes the same session id
    /// and names it as the session to reuse, so an attempt whose commit landed but whose answer was lost
    /// is found again by the next one instead of taking a second seat. An id already held by a session
    /// that may not be reused (ended, or not the caller's) gives way to a new one.
    /// </summary>
    private async Task<CheckoutRow> CheckoutAloneAsync(CheckoutCall call)
    {
        var id = call.Id;
        var reuse = call.SessionId;
        return await DatabaseFaults.RetryAsync(db, async attempt =>
        {
            if (attempt > 1) reuse = id;
            while (true)
            {
                try
                {
                    await using var connection = await db.OpenConnectionAsync();
                    return await connection.QuerySingleAsync<CheckoutRow>(CheckoutSql, new
                    {
                        keyHash = call.KeyHash, organizationId = call.OrganizationId, userId = call.UserId, productCode = call.ProductCode,
                        machineId = call.MachineId, processId = call.ProcessId, id, existing = reuse,
                        now = call.Now.UtcDateTime, expiresAt = call.ExpiresAt.UtcDateTime, clockSkewSeconds = (int)LicenseVerifier.ClockSkew.TotalSeconds,
                    });
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
                {
                    throw Busy();
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "floating_session_pkey")
                {
                    // The proposed id names a session that could not be reused: the client's ended one, or
                    // another caller's. A new id takes its place; the client's id is still named for reuse, since
                    // a request of the same client racing this one may have just created it.
                    id = Guid.NewGuid();
                    reuse = call.SessionId;
                }
            }
        });
    }

    /// <summary>The refusal the database function decided, worded from the numbers it read (<see cref="Refusals"/>).</summary>
    private static LicenseRuleException CheckoutRefusal(CheckoutRow row, string productCode, string machineId, long userId) =>
        Refusals.Word(row.Outcome, new RefusalFacts(productCode)
        {
            LicenseValidUntil = row.LicenseValidUntil,
            ProductEndedAt = row.ProductExpiresAt is { } end ? new DateTimeOffset(DateTime.SpecifyKind(end, DateTimeKind.Utc)) : null,
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
}
