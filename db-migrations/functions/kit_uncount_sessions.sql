-- Takes a pool's floating sessions that ended (by any path) or expired off its count, marking the expired
-- ones ended at their expiry, and answers how many, for the caller to subtract from the pool's floating_live
-- under the pool's lock. Plain index scans only: the planner takes "counted" and "ended_at IS NOT NULL" as
-- independent, expects thousands of rows where there are a few, and a bitmap or sequential scan costs
-- milliseconds at 100,000 live sessions and leaves dead index entries behind (re-measure with bench/run.sh).
CREATE OR REPLACE FUNCTION kit_uncount_sessions(p_org bigint, p_product text, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    v_gone integer;
BEGIN
    WITH ended AS (
        UPDATE floating_session s SET counted = false
        WHERE s.organization_id = p_org AND s.product_code = p_product AND s.counted AND s.ended_at IS NOT NULL
        RETURNING 1),
    expired AS (
        UPDATE floating_session s SET counted = false, ended_at = s.expires_at
        WHERE s.organization_id = p_org AND s.product_code = p_product AND s.counted AND s.ended_at IS NULL AND s.expires_at <= p_now
        RETURNING 1)
    SELECT (SELECT count(*) FROM ended) + (SELECT count(*) FROM expired) INTO v_gone;
    RETURN v_gone;
END
$$;
