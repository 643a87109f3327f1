-- L4 at scale: each pool keeps a count of its "counted" floating sessions, so that a checkout reads one
-- number under the pool lock instead of counting live sessions (100,000 of them cost ~10 ms).
-- A session is counted from its checkout until a later checkout of its pool, holding the pool lock,
-- finds it ended (released, ended by an admin, a removed member or a disabled machine) or expired,
-- and takes it off the count. Ending a session so never needs the pool lock, and right after that
-- sweep the count is exactly the pool's live sessions.
ALTER TABLE floating_session ADD COLUMN counted boolean NOT NULL DEFAULT true;
UPDATE floating_session SET counted = false WHERE ended_at IS NOT NULL;
CREATE INDEX floating_session_uncounted ON floating_session (organization_id, product_code) WHERE counted AND ended_at IS NOT NULL;

ALTER TABLE product_allocation ADD COLUMN floating_live integer NOT NULL DEFAULT 0;
UPDATE product_allocation a SET floating_live = (
    SELECT count(*) FROM floating_session s
    WHERE s.organization_id = a.organization_id AND s.product_code = a.product_code AND s.counted);
