using LicenseServer.Data.Licenses;
using Npgsql;

namespace LicenseServer.Data.Sessions;

/// <summary>
/// The releases with an API key, batched (<see cref="SessionBatcher"/>): each ends its session's own row
/// (its pool's count follows at the pool's next checkout). True also when the session had ended or expired
/// already: release is idempotent. False when the key was refused or the session is not the caller's.
/// </summary>
public sealed class ReleaseBatcher(NpgsqlDataSource db, TimeProvider clock) : SessionBatcher(db, clock)
{
    public async Task<bool> ReleaseAsync(Guid sessionId, byte[] keyHash) => await EnqueueAsync(sessionId, keyHash, default) is not null;

    /// <summary>
    /// The caller's sessions among the calls, locked in id order, and those still live ended now (or at their
    /// expiry, if that came first). A release lost in a database crash only keeps its seat until the lease
    /// expires, so its commit does not wait for the disk (<see cref="ClientRepository.AsynchronousCommit"/>).
    /// </summary>
    private const string ReleaseSql = $"""
        {ClientRepository.AsynchronousCommit}
        WITH release AS (
            SELECT * FROM unnest(@ids::uuid[], @hashes::bytea[]) AS r (session_id, key_hash)),
        mine AS (
            SELECT s.id, s.ended_at FROM release r
            CROSS JOIN LATERAL kit_api_key_caller(r.key_hash) k
            JOIN floating_session s ON s.id = r.session_id AND s.organization_id = k.organization_id AND s.user_id = k.user_id AND k.refusal IS NULL
            ORDER BY s.id
            FOR UPDATE OF s),
        ended AS (
            UPDATE floating_session s SET ended_at = least(@now, s.expires_at)
            FROM mine WHERE s.id = mine.id AND mine.ended_at IS NULL)
        SELECT id FROM mine
        """;

    protected override string Sql => ReleaseSql;
}
