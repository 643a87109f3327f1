using Dapper;
using LicenseServer.Core.Activation;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using LicenseServer.Data.Database;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// An organization's pool of a product (its share, <c>product_allocation</c>): locked for a transaction, counted,
/// and judged, for every path that takes a seat (<see cref="SeatLedger"/>) and the reads that show seats in use.
/// </summary>
internal static class SeatPools
{
    private const string LockTimeout = "3s";

    /// <summary>
    /// A pool locked for this transaction: its product's terms, quota and seats in use, and the seats the
    /// server's license holds against the shares of all organizations together.
    /// </summary>
    internal sealed record Pool(LicensedProductTerms Product, int Quota, int InUse, int Licensed, long Shared)
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
            await using var batch = await Batch.RunAsync(connection, LockPoolSql,
                new { organizationId, productCode, now = now.UtcDateTime, clockSkewSeconds = ClockSkewSeconds }, tx);
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

    internal static LicenseRuleException Busy() => new("busy", "Too many license changes for this product at once. Try again in a moment.");

    /// <summary>The statements of <see cref="LockPoolAsync"/>.</summary>
    private static readonly string LockPoolSql = $"""
        SET LOCAL lock_timeout = '{LockTimeout}';
        {LicenseSql};
        SELECT code, name, kind AS kind_word, subscription AS subscription_word, expires_at, quota FROM licensed_product WHERE code = @productCode;
        SELECT quota, floating_live FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode FOR UPDATE;
        {UncountSql};
        SELECT coalesce(sum(quota), 0) FROM product_allocation WHERE product_code = @productCode;
        SELECT {NotFloatingInUseSql};
        """;

    internal static async Task<Pool> ReadPoolAsync(SqlMapper.GridReader batch, string productCode, DateTimeOffset now)
    {
        RequireLicenseInForce(await batch.ReadSingleAsync<(string? Refusal, DateTimeOffset? ValidUntil)>());
        var product = await batch.ReadSingleOrDefaultAsync<ProductTermsRow?>()
            ?? throw Refusals.Word("unknown_product", new RefusalFacts(productCode));
        var (quota, floatingLive) = await batch.ReadSingleOrDefaultAsync<(int, int)?>() ?? (0, 0);
        var swept = await batch.ReadSingleAsync<int>();
        var shared = await batch.ReadSingleAsync<long>();
        var inUse = await batch.ReadSingleAsync<int>() + floatingLive - swept;
        return new Pool(product.Terms, quota, inUse, product.Quota, shared);
    }

    /// <summary>A licensed_product row as the seat rules read it: the product's terms and its quota in the server's license.</summary>
    internal sealed record ProductTermsRow(string Code, string Name, string KindWord, string SubscriptionWord, DateTimeOffset? ExpiresAt, int Quota)
    {
        public LicensedProductTerms Terms => new(Code, Name, ProductWords.Kind(KindWord), ProductWords.Subscription(SubscriptionWord), ExpiresAt);
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

    /// <summary>The clock skew allowed to the license's issue date (<c>kit_license_refusal</c>), in seconds: the license verifier's.</summary>
    internal static readonly int ClockSkewSeconds = (int)LicenseVerifier.ClockSkew.TotalSeconds;

    /// <summary>
    /// The server's license judged by its rule (<c>kit_license_refusal</c>, with <c>@now</c> and <c>@clockSkewSeconds</c>):
    /// the refusal's code, null while the license is in force, and its end.
    /// </summary>
    internal const string LicenseSql =
        "SELECT kit_license_refusal(l.issued_at, l.valid_until, @now, @clockSkewSeconds) AS refusal, l.valid_until FROM (SELECT) AS one LEFT JOIN server_license l ON l.id = 1";

    /// <summary>Throws the refusal of <see cref="LicenseSql"/>'s row, if it has one.</summary>
    internal static void RequireLicenseInForce((string? Refusal, DateTimeOffset? ValidUntil) license)
    {
        if (license.Refusal is { } code) throw Refusals.Word(code, new RefusalFacts { LicenseValidUntil = license.ValidUntil });
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
    internal static Task<DateTimeOffset?> LeasesValidUntilAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long organizationId, string productCode, long userId, DateTimeOffset now) =>
        connection.ExecuteScalarAsync<DateTimeOffset?>("""
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
        (await connection.QuerySingleOrDefaultAsync<ProductTermsRow?>(
            "SELECT code, name, kind AS kind_word, subscription AS subscription_word, expires_at, quota FROM licensed_product WHERE code = @productCode", new { productCode }, tx))?.Terms;

    internal static void RequireUsable(Pool pool, DateTimeOffset now)
    {
        if (pool.Product.ExpiresAt is { } end && end <= now)
            throw Refusals.Word("product_expired", new RefusalFacts(pool.Product.Code) { ProductEndedAt = end });
    }

    /// <summary>
    /// Enough seats for <paramref name="wanted"/>. A newer .lic may hold fewer seats than the organizations' shares add
    /// up to: nothing is dropped and seats can still be freed, but nothing new is granted until the shares are lowered.
    /// </summary>
    internal static void RequireSeats(Pool pool, int wanted)
    {
        var refused = pool.Shared > pool.Licensed ? "over_allocated"
            : pool.Quota == 0 || wanted > pool.Available ? "quota_exceeded"
            : null;
        if (refused is not null)
            throw Refusals.Word(refused, new RefusalFacts(pool.Product.Code)
            {
                Licensed = pool.Licensed, Shared = pool.Shared, Quota = pool.Quota, Available = pool.Available, Wanted = wanted,
            });
    }
}
