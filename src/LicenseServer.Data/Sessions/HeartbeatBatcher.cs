using LicenseServer.Data.Licenses;
using Npgsql;
using NpgsqlTypes;

namespace LicenseServer.Data.Sessions;

/// <summary>
/// Floating sessions, the hottest path, batched (<see cref="SessionBatcher"/>): a heartbeat that is not renewed (unknown or
/// revoked key, a session that ended or expired, a license that ended) comes back null, and the caller
/// finds out why.
/// </summary>
public sealed class HeartbeatBatcher(NpgsqlDataSource db, TimeProvider clock) : SessionBatcher(db, clock)
{
    /// <summary>The session, when it was renewed until <paramref name="expiresAt"/>; null when it was not.</summary>
    public Task<SessionFacts?> BeatAsync(Guid sessionId, byte[] keyHash, DateTimeOffset expiresAt) => EnqueueAsync(sessionId, keyHash, expiresAt);

    /// <summary>
    /// Renews the sessions whose key is live, whose owner is still an enabled member of the key's
    /// organization, whose lease runs, and whose server's license is in force (<c>kit_license_refusal</c>). A renewal lost in a database crash is harmless, so its commit
    /// does not wait for the disk (<see cref="ClientRepository.AsynchronousCommit"/>).
    /// </summary>
    private const string RenewSql = $"""
        {ClientRepository.AsynchronousCommit}
        WITH beat AS (
            SELECT * FROM unnest(@ids::uuid[], @hashes::bytea[], @expires::timestamptz[]) AS b (session_id, key_hash, expires_at)),
        due AS (
            SELECT s.id, b.expires_at FROM beat b
            CROSS JOIN LATERAL kit_api_key_caller(b.key_hash) k
            JOIN floating_session s ON s.id = b.session_id AND s.organization_id = k.organization_id AND s.user_id = k.user_id AND k.refusal IS NULL
            WHERE s.ended_at IS NULL AND s.expires_at > @now
              AND EXISTS (SELECT 1 FROM server_license l WHERE l.id = 1 AND kit_license_refusal(l.issued_at, l.valid_until, @now, @clockSkewSeconds) IS NULL)
              AND NOT EXISTS (SELECT 1 FROM licensed_product p WHERE p.code = s.product_code AND p.expires_at <= @now)
            ORDER BY s.id
            FOR UPDATE OF s)
        UPDATE floating_session s SET last_heartbeat_at = @now, expires_at = due.expires_at
        FROM due WHERE s.id = due.id
        RETURNING s.id, s.organization_id, s.product_code, s.machine_id, s.process_id
        """;

    protected override string Sql => RenewSql;

    protected override void AddParameters(NpgsqlParameterCollection parameters, IReadOnlyList<Call> batch)
    {
        parameters.Add(new NpgsqlParameter<DateTime[]>("expires", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = batch.Select(b => b.ExpiresAt.UtcDateTime).ToArray() });
        parameters.Add(new NpgsqlParameter<int>("clockSkewSeconds", NpgsqlDbType.Integer) { TypedValue = SeatPools.ClockSkewSeconds });
    }
}
