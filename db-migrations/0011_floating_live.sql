-- L4 at scale: each pool counts its floating sessions that have not ended, so that a checkout reads
-- one number under the pool lock instead of counting live sessions (100,000 of them cost ~10 ms).
-- Every path that ends sessions (release, end session, sweep of expired sessions, member removal,
-- disabled machine) holds the pool lock and takes them off this count in the same transaction; a
-- checkout first ends its pool's expired sessions, so there the count is exactly the live sessions.
ALTER TABLE product_allocation ADD COLUMN floating_live integer NOT NULL DEFAULT 0;
UPDATE product_allocation a SET floating_live = (
    SELECT count(*) FROM floating_session s
    WHERE s.organization_id = a.organization_id AND s.product_code = a.product_code AND s.ended_at IS NULL);
