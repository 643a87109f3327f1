using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// The one place where seats are taken. Each path opens one short transaction, locks the pool row
/// (the organization's allocation of the product) FOR UPDATE with a lock timeout, counts the seats in
/// use, and writes only if the quota allows: a product's seats never exceed its quota, however many
/// requests race on however many nodes. Seats in use = per-user assignments + live floating sessions
/// + unexpired offline licenses. Under the same lock, a grant also honours the teams' reservations
/// and a checkout the machine's allow-list and disabled state. Floating checkouts with an API key
/// share their transaction with the others that arrived with them, one pool after the other
/// (SeatLedger.Checkouts.cs).
/// </summary>
public sealed partial class SeatLedger(NpgsqlDataSource db, TimeProvider clock) : IAsyncDisposable
{
    private const string LockTimeout = "3s";

    /// <summary>
    /// A pool locked for this transaction: its product's terms, quota and seats in use, and the seats the
    /// server's license holds against the shares of all organizations together.
    /// </summary>
    public sealed record Pool(LicensedProductTerms Product, int Quota, int InUse, int Licensed, long Shared)
    {
        public int Available => Math.Max(0, Quota - InUse);
    }

    /// <summary>
    /// Locks the pool and reads everything a grant decides on, in one round trip: the server's license,
    /// the product's terms, the organization's share and seats in use, and the shares of all
    /// organizations. The pool's ended and expired floating sessions leave its count here (see
    /// <see cref="UncountSql"/>), so the count is then its live sessions.
    /// </summary>
    internal static async Task<Pool> LockPoolAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, DateTimeOffset now)
    {
        try
        {
            await using var batch = await Batch.RunAsync(connection, LockPoolSql, new { organizationId, productCode, now = now.UtcDateTime }, tx);
            return await ReadPoolAsync(batch.Grid, productCode, now);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw Busy();
        }
    }

    /// <summary>
    /// Reads a batch's remaining results before it is committed: Dapper cancels the command of a batch
    /// disposed unread, which could cancel a statement whose write the commit is meant to keep.
    /// </summary>
    internal static async Task DrainAsync(SqlMapper.GridReader batch)
    {
        while (!batch.IsConsumed) await batch.ReadAsync();
    }

    /// <summary>
    /// A batch of statements, read in order. Disposed early (a check refused it half-way) it reads what is
    /// left instead of letting Dapper cancel the command: a cancel request is sent on the side and could
    /// reach the connection after the pool has handed it to its next user.
    /// </summary>
    internal sealed class Batch(SqlMapper.GridReader grid) : IAsyncDisposable
    {
        public SqlMapper.GridReader Grid => grid;

        public static async Task<Batch> RunAsync(NpgsqlConnection connection, string sql, object args, NpgsqlTransaction tx) =>
            new(await connection.QueryMultipleAsync(sql, args, tx));

        public async ValueTask DisposeAsync()
        {
            try { await DrainAsync(grid); }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException) { } // the statement's own error was thrown already
            await grid.DisposeAsync();
        }
    }

    private static LicenseRuleException Busy() => new("busy", "Too many license changes for this product at once. Try again in a moment.");

    /// <summary>The statements of <see cref="LockPoolAsync"/>.</summary>
    private static readonly string LockPoolSql = $"""
        SET LOCAL lock_timeout = '{LockTimeout}';
        SELECT issued_at, valid_until FROM server_license WHERE id = 1;
        SELECT code, name, kind, subscription, expires_at, quota FROM licensed_product WHERE code = @productCode;
        SELECT quota, floating_live FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode FOR UPDATE;
        {UncountSql};
        SELECT coalesce(sum(quota), 0) FROM product_allocation WHERE product_code = @productCode;
        SELECT {NotFloatingInUseSql};
        """;

    private static async Task<Pool> ReadPoolAsync(SqlMapper.GridReader batch, string productCode, DateTimeOffset now)
    {
        RequireLicenseValid(await batch.ReadSingleOrDefaultAsync<(DateTime IssuedAt, DateTime? ValidUntil)?>(), now);
        var product = await batch.ReadSingleOrDefaultAsync<ProductRow?>()
            ?? throw new LicenseRuleException("unknown_product", $"The server's license has no product {productCode}.");
        var (quota, floatingLive) = await batch.ReadSingleOrDefaultAsync<(int, int)?>() ?? (0, 0);
        var swept = await batch.ReadSingleAsync<int>();
        var shared = await batch.ReadSingleAsync<long>();
        var inUse = await batch.ReadSingleAsync<int>() + floatingLive - swept;
        return new Pool(product.Terms, quota, inUse, product.Quota, shared);
    }

    internal sealed record ProductRow(string Code, string Name, string Kind, string Subscription, DateTime? ExpiresAt, int Quota)
    {
        public LicensedProductTerms Terms => new(Code, Name, Kind == "per-user" ? ProductKind.PerUser : ProductKind.Floating,
            Subscription == "annual" ? SubscriptionKind.Annual : SubscriptionKind.Perpetual,
            ExpiresAt is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null);
    }

    /// <summary>
    /// Takes the pool's sessions that ended (by any path) or expired since the last checkout off its
    /// count (<c>kit_uncount_sessions</c>); the value is how many. Runs under the pool
    /// lock; a session's own end never takes that lock (see the migration of <c>floating_live</c>).
    /// </summary>
    private const string UncountSql = """
        WITH gone AS (SELECT kit_uncount_sessions(@organizationId, @productCode, @now) AS n),
        adjusted AS (
            UPDATE product_allocation p SET floating_live = p.floating_live - gone.n FROM gone
            WHERE p.organization_id = @organizationId AND p.product_code = @productCode AND gone.n > 0 RETURNING 1)
        SELECT n FROM gone
        """;

    /// <summary>The server's license itself must be in force: activated, and neither expired nor issued in the future.</summary>
    internal static void RequireLicenseValid((DateTime IssuedAt, DateTime? ValidUntil)? row, DateTimeOffset now)
    {
        var license = row ?? throw new LicenseRuleException("server_not_activated", "The license server is not activated.");
        if (license.ValidUntil is { } until && until <= now.UtcDateTime)
            throw new LicenseRuleException("license_expired", $"The server's license expired on {until:yyyy-MM-dd}. An administrator must upload a renewed license.");
        if (license.IssuedAt > now.UtcDateTime + LicenseVerifier.ClockSkew)
            throw new LicenseRuleException("clock_tampering", "The server's clock is earlier than its license's issue date. Correct the system clock.");
    }

    /// <summary>
    /// Seats in use other than floating sessions: assignments, recalled licenses whose machines still hold
    /// leases valid offline (each holds its seat until the last such lease expires, so a recall cannot hand
    /// out more seats than the quota), and unexpired offline licenses. Defined once, in the database
    /// (db-migrations/functions/), for every path that counts seats.
    /// </summary>
    private const string NotFloatingInUseSql = "kit_seats_not_floating(@organizationId, @productCode, @now)";

    /// <summary>Seats in use, counted without the pool lock (pages, samples): live floating sessions are counted one by one.</summary>
    internal static Task<int> InUseAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, long organizationId, string productCode, DateTimeOffset now) =>
        connection.ExecuteScalarAsync<int>($"""
            SELECT {NotFloatingInUseSql}
                 + (SELECT count(*) FROM floating_session WHERE organization_id = @organizationId AND product_code = @productCode
                        AND ended_at IS NULL AND expires_at > @now)
            """, new { organizationId, productCode, now = now.UtcDateTime }, tx);

    /// <summary>When the last offline-valid lease of a user's machines for the product expires; null when none is valid now.</summary>
    private static Task<DateTime?> LeasesValidUntilAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, long userId, DateTimeOffset now) =>
        connection.ExecuteScalarAsync<DateTime?>("""
            SELECT max(lease_expires_at) FROM machine_activation
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @userId AND lease_expires_at > @now
            """, new { organizationId, productCode, userId, now = now.UtcDateTime }, tx);

    /// <summary>
    /// The organization's reservations of a product, each with the seats its members hold (assignments
    /// and live floating sessions; the assignment of <c>@exceptUserId</c> left out, for a transfer), and
    /// which of <c>@userIds</c> are in the team. Defined in the database (db-migrations/functions/), where the
    /// checkout applies it too.
    /// </summary>
    private const string ReservationsSql = """
        SELECT team_id, team_name, seats, filled, members
        FROM kit_team_reservations(@organizationId, @productCode, @userIds, @exceptUserId, @now) t
        """;

    // Classes with setters, not positional records: Dapper matches constructors by the reader's field
    // types, and Npgsql reports an array column as System.Array.
    private sealed class ReservationRow
    {
        public long TeamId { get; init; }
        public string TeamName { get; init; } = "";
        public int Seats { get; init; }
        public int Filled { get; init; }
        public long[] Members { get; init; } = [];
    }

    internal static async Task<IReadOnlyList<TeamReservation>> ReservationsAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, long organizationId,
        string productCode, long[] userIds, long? exceptUserId, DateTimeOffset now) =>
        (await connection.QueryAsync<ReservationRow>(ReservationsSql + " ORDER BY lower(t.team_name)",
            new { organizationId, productCode, userIds, exceptUserId = exceptUserId ?? 0, now = now.UtcDateTime }, tx))
        .Select(r => new TeamReservation(r.TeamId, r.TeamName, r.Seats, r.Filled, r.Members)).ToList();

    internal static async Task<LicensedProductTerms?> ProductAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string productCode) =>
        (await connection.QuerySingleOrDefaultAsync<ProductRow?>(
            "SELECT code, name, kind, subscription, expires_at, quota FROM licensed_product WHERE code = @productCode", new { productCode }, tx))?.Terms;

    private static void RequireUsable(Pool pool, DateTimeOffset now)
    {
        if (pool.Product.ExpiresAt is { } end && end <= now)
            throw new LicenseRuleException("license_expired", $"The {pool.Product.Code} license expired on {LicenseVerifier.Format(end)}.");
    }

    private static void RequireSeats(Pool pool, int wanted)
    {
        // A newer .lic may hold fewer seats than the organizations' shares add up to: nothing is
        // dropped and seats can still be freed, but nothing new is granted until the shares are lowered.
        if (pool.Shared > pool.Licensed)
            throw new LicenseRuleException("over_allocated",
                $"The server's license holds {pool.Licensed} {pool.Product.Code} seats, but {pool.Shared} are shared among organizations. " +
                "Nothing new is granted until the server admin lowers the shares under All licenses.");
        if (pool.Quota == 0)
            throw new LicenseRuleException("quota_exceeded",
                $"No {pool.Product.Code} seats are allocated to this organization. The server admin allocates them under All licenses.");
        if (wanted > pool.Available)
            throw new LicenseRuleException("quota_exceeded",
                $"{pool.Product.Code} has {pool.Available} of {pool.Quota} seats left, not enough for {wanted}. Nothing was granted.");
    }

    /// <summary>Per-user licenses for several members at once, all or none.</summary>
    public async Task AssignAsync(long organizationId, string productCode, IReadOnlyList<(long UserId, string Email)> users, long actor)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await GrantInAsync(connection, tx, organizationId, productCode, users, actor, clock.GetUtcNow());
        await tx.CommitAsync();
    }

    /// <summary>Several products for several members, granted or recalled together, all or nothing.</summary>
    public async Task BulkAsync(long organizationId, IReadOnlyList<string> productCodes, IReadOnlyList<(long UserId, string Email)> users, bool grant, long actor)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        foreach (var code in productCodes.Order(StringComparer.Ordinal)) // one lock order for every caller: no deadlock
        {
            if (grant)
            {
                var holders = (await connection.QueryAsync<long>(
                    "SELECT user_id FROM license_assignment WHERE organization_id = @organizationId AND product_code = @code",
                    new { organizationId, code }, tx)).ToHashSet();
                try
                {
                    await GrantInAsync(connection, tx, organizationId, code, users.Where(u => !holders.Contains(u.UserId)).ToList(), actor, now);
                }
                catch (LicenseRuleException e)
                {
                    e.Product ??= code;
                    throw;
                }
            }
            else
            {
                await LockPoolAsync(connection, tx, organizationId, code, now);
                foreach (var user in users) await RecallInAsync(connection, tx, organizationId, code, user, actor);
            }
        }
        await tx.CommitAsync();
    }

    private static async Task GrantInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode,
        IReadOnlyList<(long UserId, string Email)> users, long actor, DateTimeOffset now)
    {
        // Member rows before the pool, the order a member's removal takes them in too.
        if (users.Count > 0) await RequireMembersAsync(connection, tx, organizationId, users);
        var pool = await LockPoolAsync(connection, tx, organizationId, productCode, now);
        if (pool.Product.Kind != ProductKind.PerUser)
            throw new LicenseRuleException("not_per_user", $"{productCode} is a floating license: members use it with an API key, no assignment needed.");
        RequireUsable(pool, now);
        if (users.Count == 0) return;
        var holders = (await connection.QueryAsync<string>("""
            SELECT u.email FROM license_assignment a JOIN public.user_account u ON u.id = a.user_id
            WHERE a.organization_id = @organizationId AND a.product_code = @productCode AND a.user_id = ANY(@ids)
            """, new { organizationId, productCode, ids = users.Select(u => u.UserId).ToArray() }, tx)).ToList();
        if (holders.Count > 0)
            throw new LicenseRuleException("already_licensed", $"{string.Join(", ", holders)} already {(holders.Count == 1 ? "has" : "have")} a {productCode} license. Nothing was granted.");
        RequireSeats(pool, users.Count);
        var reservations = await ReservationsAsync(connection, tx, organizationId, productCode, users.Select(u => u.UserId).ToArray(), null, now);
        SeatReservations.Require(productCode, pool.Available, reservations, users.Select(u => (long?)u.UserId).ToList());
        foreach (var user in users)
        {
            await connection.ExecuteAsync("""
                INSERT INTO license_assignment (organization_id, product_code, user_id, assigned_by) VALUES (@organizationId, @productCode, @UserId, @actor)
                """, new { organizationId, productCode, user.UserId, actor }, tx);
            await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.assigned", user.Email, productCode);
        }
    }

    /// <summary>
    /// Membership checked again inside the grant, holding the member rows FOR SHARE: a removal racing the
    /// grant waits for it (and then takes the license back), or the grant finds the member gone.
    /// </summary>
    private static async Task RequireMembersAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, IReadOnlyList<(long UserId, string Email)> users)
    {
        var members = (await connection.QueryAsync<long>("""
            SELECT user_id FROM organization_member WHERE organization_id = @organizationId AND user_id = ANY(@ids) FOR SHARE
            """, new { organizationId, ids = users.Select(u => u.UserId).ToArray() }, tx)).ToHashSet();
        if (users.Where(u => !members.Contains(u.UserId)).Select(u => u.Email).ToList() is { Count: > 0 } gone)
            throw new LicenseRuleException("not_a_member",
                $"{string.Join(", ", gone)} {(gone.Count == 1 ? "is" : "are")} no longer a member of this organization. Nothing was granted.");
    }

    private static async Task<bool> RecallInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, (long UserId, string Email) user, long actor)
    {
        var removed = await connection.ExecuteAsync("""
            UPDATE machine_activation SET deactivated_at = now()
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @UserId AND deactivated_at IS NULL;
            DELETE FROM license_assignment WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @UserId;
            """, new { organizationId, productCode, user.UserId }, tx);
        if (removed == 0) return false;
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.unassigned", user.Email, productCode);
        return true;
    }

    /// <summary>
    /// Takes the license back (and deactivates the user's machines for it). Returns when its seat is
    /// free: now, or when the last lease the user's machines hold expires.
    /// </summary>
    public async Task<DateTimeOffset?> UnassignAsync(long organizationId, string productCode, (long UserId, string Email) user, long actor)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await LockPoolAsync(connection, tx, organizationId, productCode, now);
        if (!await RecallInAsync(connection, tx, organizationId, productCode, user, actor))
            throw new LicenseRuleException("not_licensed", $"{user.Email} has no {productCode} license.");
        var heldUntil = await LeasesValidUntilAsync(connection, tx, organizationId, productCode, user.UserId, now);
        await tx.CommitAsync();
        return heldUntil is { } until ? new DateTimeOffset(DateTime.SpecifyKind(until, DateTimeKind.Utc)) : null;
    }

    /// <summary>
    /// Moves a license from one member to another in one step. The seat count does not change,
    /// unless the old holder's machines still hold valid leases (see <see cref="NotFloatingInUseSql"/>).
    /// </summary>
    public async Task TransferAsync(long organizationId, string productCode, (long UserId, string Email) from, (long UserId, string Email) to, long actor)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await RequireMembersAsync(connection, tx, organizationId, [to]);
        var pool = await LockPoolAsync(connection, tx, organizationId, productCode, now);
        // The old holder's machines keep verifying their leases offline until they expire: meanwhile the
        // old holder keeps a seat, so the new holder needs a free one.
        var leasesUntil = await LeasesValidUntilAsync(connection, tx, organizationId, productCode, from.UserId, now);
        if (leasesUntil is { } until && pool.Available < 1)
            throw new LicenseRuleException("quota_exceeded",
                $"{from.Email}'s machines hold {productCode} leases valid offline until {until:yyyy-MM-dd HH:mm} UTC, so that seat stays taken until then, " +
                $"and no other {productCode} seat is free for {to.Email}. Free a seat, or transfer after that time.");
        var hasTarget = await connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM license_assignment WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @UserId)",
            new { organizationId, productCode, to.UserId }, tx);
        if (hasTarget) throw new LicenseRuleException("already_licensed", $"{to.Email} already has a {productCode} license.");
        var moved = await connection.ExecuteAsync("""
            UPDATE machine_activation SET deactivated_at = now()
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @fromId AND deactivated_at IS NULL;
            UPDATE license_assignment SET user_id = @toId, assigned_at = now(), assigned_by = @actor
            WHERE organization_id = @organizationId AND product_code = @productCode AND user_id = @fromId;
            """, new { organizationId, productCode, fromId = from.UserId, toId = to.UserId, actor }, tx);
        if (moved == 0) throw new LicenseRuleException("not_licensed", $"{from.Email} has no {productCode} license to transfer.");
        // Judged as if the seat were free (unless the old holder's leases keep it) and then granted to the new holder.
        var reservations = await ReservationsAsync(connection, tx, organizationId, productCode, [to.UserId], to.UserId, now);
        SeatReservations.Require(productCode, pool.Available + (leasesUntil is null ? 1 : 0), reservations, [to.UserId]);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.transferred", to.Email, $"{productCode} from {from.Email}");
        await tx.CommitAsync();
    }

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
                CheckoutRefusal(row, productCode, machineId, row.CallerUser!.Value, now), row.LicenseIssuedAt),
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

    private static LicenseRuleException CheckoutRefusal(CheckoutRow row, string productCode, string machineId, long userId, DateTimeOffset now)
    {
        try
        {
            switch (row.Outcome)
            {
                case "server_not_activated" or "license_expired" or "clock_tampering":
                    RequireLicenseValid(row.LicenseIssuedAt is { } issued ? (issued, row.LicenseValidUntil) : null, now);
                    break;
                case "unknown_product":
                    return new LicenseRuleException("unknown_product", $"The server's license has no product {productCode}.");
                case "not_floating":
                    return new LicenseRuleException("not_floating", $"{productCode} is a per-user license: activate it with your account instead.");
                case "machine_disabled":
                    return MachineRules.Disabled(machineId, row.DisabledReason);
                case "machine_not_allowed":
                    return MachineRules.NotAllowed(productCode, machineId);
                case "machine_limit":
                    return new LicenseRuleException("machine_limit",
                        $"{productCode} is registered on {row.Registered} machines, its quota; an admin must remove one under License Management before {machineId} can use it.");
                case "product_expired" or "over_allocated" or "quota_exceeded" or "reserved":
                    var pool = new Pool(new ProductRow(productCode, row.ProductName!, row.ProductKind!, row.ProductSubscription!, row.ProductExpiresAt, row.Licensed!.Value).Terms,
                        row.Quota!.Value, row.InUse ?? 0, row.Licensed!.Value, row.Shared ?? 0);
                    RequireUsable(pool, now);
                    RequireSeats(pool, 1);
                    SeatReservations.Require(productCode, pool.Available,
                        row.TeamIds.Select((team, i) => new TeamReservation(team, row.TeamNames[i], row.TeamSeats[i], row.TeamFilled[i],
                            row.TeamHasUser[i] ? [userId] : [])).ToList(), [userId]);
                    break;
            }
        }
        catch (LicenseRuleException refusal)
        {
            return refusal;
        }
        throw new InvalidOperationException($"The database refused a {productCode} checkout ({row.Outcome}) for a reason the seat rules here do not explain.");
    }

    /// <summary>
    /// Takes a seat until <paramref name="expiresAt"/> for a machine, and stores the signed file that
    /// <paramref name="sign"/> makes, in the same transaction.
    /// </summary>
    public async Task<Guid> CreateOfflineAsync(long organizationId, string productCode, string machineId, DateTimeOffset expiresAt, long actor,
        Func<Guid, LicensedProductTerms, DateTimeOffset, (string FileName, string Text)> sign)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var pool = await LockPoolAsync(connection, tx, organizationId, productCode, now);
        RequireUsable(pool, now);
        RequireSeats(pool, 1);
        // An offline license is bound to no user: it takes only unreserved seats.
        SeatReservations.Require(productCode, pool.Available, await ReservationsAsync(connection, tx, organizationId, productCode, [], null, now), [null]);
        var id = Guid.NewGuid();
        var (fileName, text) = sign(id, pool.Product, now);
        await connection.ExecuteAsync("""
            INSERT INTO offline_license (id, organization_id, product_code, machine_id, expires_at, created_at, created_by, file_name, file_text)
            VALUES (@id, @organizationId, @productCode, @machineId, @expiresAt, @now, @actor, @fileName, @text)
            """, new { id, organizationId, productCode, machineId, expiresAt = expiresAt.UtcDateTime, now = now.UtcDateTime, actor, fileName, text }, tx);
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "license.offline_created", machineId, $"{productCode} until {expiresAt.UtcDateTime:yyyy-MM-dd}");
        await tx.CommitAsync();
        return id;
    }
}
