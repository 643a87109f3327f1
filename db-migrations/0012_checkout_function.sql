-- Seat counting in one place, and the floating checkout (L4) decided inside PostgreSQL.
--
-- A checkout used to lock its organization's pool, send its statements in one batch, and then hold the
-- lock across one more round trip while the server checked the rules and committed. Under load every
-- other checkout of that organization waited for that round trip. kit_checkout_floating does the same
-- work as one statement: the pool row is locked from its FOR UPDATE to the commit that ends the call.
-- In READ COMMITTED each statement of a PL/pgSQL function takes a fresh snapshot, so the counts read
-- after the lock see everything the previous holder committed.

-- Seats in use other than floating sessions: per-user assignments, recalled licenses whose machines
-- still hold leases valid offline (each such user holds a seat until the last lease expires, so a
-- recall cannot hand out more seats than the quota), and unexpired offline licenses.
CREATE FUNCTION kit_seats_not_floating(p_org bigint, p_product text, p_now timestamptz) RETURNS bigint
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

-- C2: the caller an API key stands for, when it may act: the key is live (not revoked) and its owner
-- is an enabled member of the key's organization. The client API's hot paths check their key with it
-- in the statement that does their work; no row means refused, and the server asks again to say why.
CREATE FUNCTION kit_api_key_caller(p_key_hash bytea) RETURNS TABLE (key_id bigint, organization_id bigint, user_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.organization_id, k.user_id
    FROM api_key k JOIN public.user_account u ON u.id = k.user_id
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND NOT u.disabled
      AND EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = k.organization_id AND m.user_id = k.user_id)
$$;

-- L4: takes a pool's floating sessions that ended (by any path) or expired off its count, marking the
-- expired ones ended at their expiry; answers how many, for the caller to subtract from the pool's
-- floating_live under the pool's lock (see 0011_floating_live.sql).
-- Plain index scans only: the planner multiplies the selectivities of "counted" and "ended_at IS NOT
-- NULL", which are anything but independent, expects thousands of rows where there are a few, and picks
-- a bitmap or sequential scan (22 ms at 100,000 live sessions). A bitmap scan also never marks the
-- index entries of rows already uncounted as dead, so they pile up until the next vacuum. A plain
-- index scan finds the few rows in well under a millisecond and keeps the index clean. PL/pgSQL keeps
-- the plans; an SQL function would plan its statements again on every call.
CREATE FUNCTION kit_uncount_sessions(p_org bigint, p_product text, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off AS $$
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

-- O5: an organization's reservations of a product, each with the seats its members hold (assignments
-- and live floating sessions; the assignment of p_except_user left out, for a transfer), and which of
-- p_users are in the team.
CREATE FUNCTION kit_team_reservations(p_org bigint, p_product text, p_users bigint[], p_except_user bigint, p_now timestamptz)
RETURNS TABLE (team_id bigint, team_name text, seats integer, filled integer, members bigint[])
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.name, r.seats,
           ((SELECT count(*) FROM license_assignment a JOIN team_member tm ON tm.user_id = a.user_id
             WHERE tm.team_id = t.id AND a.organization_id = p_org AND a.product_code = p_product AND a.user_id <> p_except_user)
          + (SELECT count(*) FROM floating_session s JOIN team_member tm ON tm.user_id = s.user_id
             WHERE tm.team_id = t.id AND s.organization_id = p_org AND s.product_code = p_product
               AND s.ended_at IS NULL AND s.expires_at > p_now))::integer,
           array(SELECT tm.user_id FROM team_member tm WHERE tm.team_id = t.id AND tm.user_id = ANY (p_users))
    FROM team_reservation r JOIN team t ON t.id = r.team_id
    WHERE t.organization_id = p_org AND r.product_code = p_product
$$;

-- L4: a floating seat for one process. The caller is the owner of the API key whose SHA-256 is
-- p_key_hash, in the key's organization (p_org and p_user are then ignored; caller_org and caller_user
-- say who it was), or, with p_key_hash null, user p_user in organization p_org. The outcome is
-- 'granted' (session_id is p_id), 'reused' (a live session p_existing of the same user and machine,
-- renewed), 'api_key' (the key is unknown or revoked, or its owner is no longer an enabled member of
-- its organization: the server asks again to say which), or the code of the first rule that refuses
-- the seat, in this order: server_not_activated, license_expired, clock_tampering, unknown_product,
-- not_floating, product_expired, machine_disabled, machine_not_allowed, machine_limit, over_allocated,
-- quota_exceeded, reserved. The other columns are what the rules read, so that the server can word the
-- refusal. A refusal writes nothing but bookkeeping: the pool's ended and expired sessions leave its
-- count (see 0011_floating_live.sql), and a key's last use is noted once a minute. A lock wait past
-- lock_timeout raises 55P03.
CREATE FUNCTION kit_checkout_floating(
    p_key_hash bytea, p_org bigint, p_user bigint, p_product text, p_machine text, p_process text, p_id uuid, p_existing uuid,
    p_now timestamptz, p_expires timestamptz, p_clock_skew_seconds integer,
    OUT outcome text, OUT caller_org bigint, OUT caller_user bigint, OUT session_id uuid,
    OUT license_issued_at timestamptz, OUT license_valid_until timestamptz,
    OUT product_name text, OUT product_kind text, OUT product_subscription text, OUT product_expires_at timestamptz, OUT licensed integer,
    OUT quota integer, OUT in_use integer, OUT shared bigint,
    OUT disabled_reason text, OUT registered integer,
    OUT team_ids bigint[], OUT team_names text[], OUT team_seats integer[], OUT team_filled integer[], OUT team_has_user boolean[])
LANGUAGE plpgsql SET lock_timeout = '3s' AS $$
DECLARE
    v_key bigint;
    v_licensed boolean;
    v_disabled boolean;
    v_not_listed boolean;
    v_live integer;
    v_gone integer;
    v_known boolean;
    v_unreserved integer;
    v_mine boolean;
BEGIN
    -- Each statement here costs more to start than to run, so the reads are gathered into few.
    IF p_key_hash IS NOT NULL THEN
        SELECT c.key_id, c.organization_id, c.user_id INTO v_key, p_org, p_user FROM kit_api_key_caller(p_key_hash) c;
        IF NOT FOUND THEN outcome := 'api_key'; RETURN; END IF;
        UPDATE api_key k SET last_used_at = p_now WHERE k.id = v_key AND (k.last_used_at IS NULL OR k.last_used_at < p_now - interval '1 minute');
    END IF;
    caller_org := p_org;
    caller_user := p_user;

    -- The server's license, the product, and the machine's state (L11).
    SELECT l.id IS NOT NULL, l.issued_at, l.valid_until, p.name, p.kind, p.subscription, p.expires_at, p.quota, d.machine_id IS NOT NULL, d.reason,
           EXISTS (SELECT 1 FROM floating_allowed_machine f WHERE f.organization_id = p_org AND f.product_code = p_product)
           AND NOT EXISTS (SELECT 1 FROM floating_allowed_machine f WHERE f.organization_id = p_org AND f.product_code = p_product AND f.machine_id = p_machine)
    INTO v_licensed, license_issued_at, license_valid_until, product_name, product_kind, product_subscription, product_expires_at, licensed,
         v_disabled, disabled_reason, v_not_listed
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN server_license l ON l.id = 1
    LEFT JOIN licensed_product p ON p.code = p_product
    LEFT JOIN disabled_machine d ON d.organization_id = p_org AND d.machine_id = p_machine;
    IF NOT v_licensed THEN outcome := 'server_not_activated'; RETURN; END IF;
    IF license_valid_until <= p_now THEN outcome := 'license_expired'; RETURN; END IF;
    IF license_issued_at > p_now + make_interval(secs => p_clock_skew_seconds) THEN outcome := 'clock_tampering'; RETURN; END IF;
    IF product_kind IS NULL THEN outcome := 'unknown_product'; RETURN; END IF;
    IF product_kind <> 'floating' THEN outcome := 'not_floating'; RETURN; END IF;
    IF product_expires_at <= p_now THEN outcome := 'product_expired'; RETURN; END IF;
    IF v_disabled THEN outcome := 'machine_disabled'; RETURN; END IF;
    IF v_not_listed THEN outcome := 'machine_not_allowed'; RETURN; END IF;

    -- A repeated session id of the same user and machine, still live, keeps its seat.
    IF p_existing IS NOT NULL THEN
        UPDATE floating_session s SET expires_at = p_expires, last_heartbeat_at = p_now
        WHERE s.id = p_existing AND s.organization_id = p_org AND s.product_code = p_product AND s.user_id = p_user
          AND s.machine_id = p_machine AND s.ended_at IS NULL AND s.expires_at > p_now
        RETURNING s.id INTO session_id;
        IF FOUND THEN outcome := 'reused'; RETURN; END IF;
    END IF;

    -- The pool's lock, held until the call commits. Everything read after it sees what the previous
    -- holder committed.
    SELECT a.quota, a.floating_live INTO quota, v_live
    FROM product_allocation a WHERE a.organization_id = p_org AND a.product_code = p_product FOR UPDATE;
    IF NOT FOUND THEN quota := 0; v_live := 0; END IF;
    v_gone := kit_uncount_sessions(p_org, p_product, p_now);

    -- Seats in use; whether the machine is registered (if not, how many are: a new one is registered
    -- only while they stay within the quota); the shares of all organizations; and the reservations (O5),
    -- with the seats they withhold from this user and whether a team of the user's has one unfilled.
    SELECT kit_seats_not_floating(p_org, p_product, p_now) + v_live - v_gone, k.known,
           CASE WHEN NOT k.known THEN (SELECT count(*) FROM floating_machine m WHERE m.organization_id = p_org AND m.product_code = p_product) END,
           (SELECT coalesce(sum(a.quota), 0) FROM product_allocation a WHERE a.product_code = p_product),
           r.ids, r.names, r.seats, r.filled, r.has_user, r.unfilled, r.mine
    INTO in_use, v_known, registered, shared, team_ids, team_names, team_seats, team_filled, team_has_user, v_unreserved, v_mine
    FROM (SELECT EXISTS (SELECT 1 FROM floating_machine m
                         WHERE m.organization_id = p_org AND m.product_code = p_product AND m.machine_id = p_machine) AS known) AS k,
         (SELECT coalesce(array_agg(t.team_id ORDER BY lower(t.team_name)), '{}') AS ids,
                 coalesce(array_agg(t.team_name ORDER BY lower(t.team_name)), '{}') AS names,
                 coalesce(array_agg(t.seats ORDER BY lower(t.team_name)), '{}') AS seats,
                 coalesce(array_agg(t.filled ORDER BY lower(t.team_name)), '{}') AS filled,
                 coalesce(array_agg(cardinality(t.members) > 0 ORDER BY lower(t.team_name)), '{}') AS has_user,
                 coalesce(sum(greatest(0, t.seats - t.filled)), 0)::integer AS unfilled,
                 coalesce(bool_or(cardinality(t.members) > 0 AND t.seats > t.filled), false) AS mine
          FROM kit_team_reservations(p_org, p_product, ARRAY[p_user], 0, p_now) t) AS r;
    v_unreserved := quota - in_use - v_unreserved;

    IF NOT v_known AND quota > 0 AND registered >= quota THEN
        outcome := 'machine_limit';
    ELSIF shared > licensed THEN
        outcome := 'over_allocated';
    ELSIF quota - in_use < 1 THEN
        outcome := 'quota_exceeded';
    -- O5: the unfilled part of every reservation is withheld from users outside that team.
    ELSIF v_unreserved < 1 AND NOT v_mine THEN
        outcome := 'reserved';
    ELSE
        outcome := 'granted';
        session_id := p_id;
    END IF;

    -- The pool's count, less the sessions that left it, plus the one granted; the machine registered
    -- (its last use noted to the minute, not one more row version per checkout); the session.
    WITH machine AS (
        INSERT INTO floating_machine (organization_id, product_code, machine_id, first_seen_at, last_seen_at)
        SELECT p_org, p_product, p_machine, p_now, p_now WHERE outcome = 'granted'
        ON CONFLICT ON CONSTRAINT floating_machine_pkey DO UPDATE SET last_seen_at = excluded.last_seen_at
        WHERE floating_machine.last_seen_at < excluded.last_seen_at - interval '1 minute'),
    granted AS (
        INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, expires_at)
        SELECT p_id, p_org, p_product, p_user, p_machine, p_process, p_now, p_now, p_expires WHERE outcome = 'granted')
    UPDATE product_allocation a SET floating_live = v_live - v_gone + CASE WHEN outcome = 'granted' THEN 1 ELSE 0 END
    WHERE a.organization_id = p_org AND a.product_code = p_product AND (v_gone > 0 OR outcome = 'granted');
END
$$;

-- Every checkout and release writes floating_session rows: at 100,000 live sessions the default
-- (vacuum once a fifth of the rows are dead) let tens of thousands of dead rows pile up and then
-- vacuumed them all at once in the middle of the load. Small, frequent vacuums keep each one short.
ALTER TABLE floating_session SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                                  autovacuum_analyze_scale_factor = 0.02);
