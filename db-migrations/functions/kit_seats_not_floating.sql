-- Seats in use other than floating sessions, for one organization's pool of a product: per-user assignments,
-- recalled licenses whose machines still hold leases valid offline (such a user holds the seat until the last
-- lease expires, so a recall never hands out more seats than the quota), and unexpired offline licenses. Every
-- path that counts seats counts them here: grants, transfers, offline licenses, checkouts, the console, /metrics.
CREATE OR REPLACE FUNCTION kit_seats_not_floating(p_org bigint, p_product text, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- Planned once per connection. An SQL function whose body holds subqueries is never inlined, and
    -- PostgreSQL plans its body again on every call; PL/pgSQL keeps plans, but left to itself it goes
    -- on planning this statement for each call's values (0.3 ms, more than it takes to run).
    RETURN (SELECT count(*) FROM license_assignment WHERE organization_id = p_org AND product_code = p_product)
         + (SELECT count(DISTINCT m.user_id) FROM machine_activation m
            WHERE m.organization_id = p_org AND m.product_code = p_product AND m.lease_expires_at > p_now
              AND NOT EXISTS (SELECT 1 FROM license_assignment a
                              WHERE a.organization_id = m.organization_id AND a.product_code = m.product_code AND a.user_id = m.user_id))
         + (SELECT count(*) FROM offline_license WHERE organization_id = p_org AND product_code = p_product AND expires_at > p_now);
END
$$;
