-- L4 at scale: a release no longer leaves its session for the next checkout to take off the pool's count
-- with a second update of the session row. Every update of a floating_session row is a new row version
-- in a table of 100,000 live sessions and more (no update of it can be HOT: ended_at and counted are in
-- its partial indexes' predicates), and autovacuum cleaning those up mid-load cost checkouts a fifth of
-- their throughput at that scale. Now a release ends its session and marks it uncounted in one update,
-- and notes the session here, in a small table; the pool's next checkout deletes the notes under the
-- pool's lock and takes them off floating_live. So a pool's floating_live is its counted sessions plus
-- its notes here. Sessions ended any other way (by an admin, a removed member, a disabled machine, an
-- expired lease) are still found by the sweep as before.
CREATE TABLE floating_released (
    organization_id bigint NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text   NOT NULL,
    session_id      uuid   NOT NULL,
    PRIMARY KEY (organization_id, product_code, session_id)
);

CREATE OR REPLACE FUNCTION kit_uncount_sessions(p_org bigint, p_product text, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    v_gone integer;
BEGIN
    -- See 0012_checkout_function.sql for why plain index scans only.
    WITH released AS (
        DELETE FROM floating_released r WHERE r.organization_id = p_org AND r.product_code = p_product
        RETURNING 1),
    ended AS (
        UPDATE floating_session s SET counted = false
        WHERE s.organization_id = p_org AND s.product_code = p_product AND s.counted AND s.ended_at IS NOT NULL
        RETURNING 1),
    expired AS (
        UPDATE floating_session s SET counted = false, ended_at = s.expires_at
        WHERE s.organization_id = p_org AND s.product_code = p_product AND s.counted AND s.ended_at IS NULL AND s.expires_at <= p_now
        RETURNING 1)
    SELECT (SELECT count(*) FROM released) + (SELECT count(*) FROM ended) + (SELECT count(*) FROM expired) INTO v_gone;
    RETURN v_gone;
END
$$;
