-- L4: a batch of checkouts writes its sessions in one statement, and each pool's count once. Under a checkout
-- load the statement that wrote a granted call's session and its pool's count was the costliest of the call
-- (pg_stat_statements on the bench: a quarter of the batch statement's time), and it was started once per
-- call: each start sets up the executor, opens the table's four indexes and prepares its foreign-key checks,
-- for one row. So a call of a batch (p_defer) leaves both to its batch:
-- - a granted session is answered as pending (session_pending), and the batch inserts all of them at once
--   after its last call;
-- - the pool's count is kept with the pool's lock (the setting kit.checkout_pool) and written once, when the
--   next call locks another pool, or at the end of the batch (kit_checkout_flush).
-- Until then nothing of the batch reads them: the calls after the first of a pool take its count from the
-- setting, and the other seats it counts are not floating sessions. Except where the organization reserves
-- seats for teams (O5): a team's filled seats count its members' floating sessions, so there each session and
-- count is written at once, as before.
-- A lone checkout (p_defer false, and the 11-argument form, which a node not yet upgraded still calls) writes
-- both at once, as before. Same outcomes, same rules in the same order.

-- Writes the count of the pool this transaction locked last, when its calls left it to be written (p_defer),
-- and notes it written. A batch of checkouts calls it after its last call (the first call of the next pool
-- writes it the same way, before it locks that pool).
CREATE FUNCTION kit_checkout_flush() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_cached text[] := string_to_array(current_setting('kit.checkout_pool', true), '/');
    v_set text;
BEGIN
    IF v_cached[1] = txid_current()::text AND v_cached[9]::boolean THEN
        UPDATE product_allocation a SET floating_live = v_cached[5]::integer
        WHERE a.organization_id = v_cached[2]::bigint AND a.product_code = v_cached[3];
        v_cached[9] := 'false';
        v_set := set_config('kit.checkout_pool', array_to_string(v_cached, '/'), false);
    END IF;
END
$$;

CREATE FUNCTION kit_checkout_floating(
    p_key_hash bytea, p_org bigint, p_user bigint, p_product text, p_machine text, p_process text, p_id uuid, p_existing uuid,
    p_now timestamptz, p_expires timestamptz, p_clock_skew_seconds integer, p_defer boolean,
    OUT outcome text, OUT caller_org bigint, OUT caller_user bigint, OUT session_id uuid,
    OUT license_issued_at timestamptz, OUT license_valid_until timestamptz,
    OUT product_name text, OUT product_kind text, OUT product_subscription text, OUT product_expires_at timestamptz, OUT licensed integer,
    OUT quota integer, OUT in_use integer, OUT shared bigint,
    OUT disabled_reason text, OUT registered integer,
    OUT team_ids bigint[], OUT team_names text[], OUT team_seats integer[], OUT team_filled integer[], OUT team_has_user boolean[],
    OUT session_pending boolean)
LANGUAGE plpgsql SET lock_timeout = '3s' AS $$
DECLARE
    v_key bigint;
    v_key_used timestamptz;
    v_licensed boolean;
    v_disabled boolean;
    v_not_listed boolean;
    v_live integer;
    v_gone integer;
    v_known boolean;
    v_unreserved integer;
    v_mine boolean;
    v_reserved boolean;
    v_last_seen timestamptz;
    v_not_floating bigint;
    v_cached text[];
    v_set text;
    v_dirty boolean;
    v_defer boolean;
BEGIN
    session_pending := false;
    -- Each statement here costs more to start than to run, so the reads are gathered into few.
    -- The caller (the API key's, or the member given), the server's license, the product, and the machine's
    -- state (L11). Without a key (p_key_hash null) no key row is found, and the organization is p_org.
    SELECT c.key_id, c.last_used_at, coalesce(c.organization_id, p_org), coalesce(c.user_id, p_user), m.last_seen_at,
           l.id IS NOT NULL, l.issued_at, l.valid_until, p.name, p.kind, p.subscription, p.expires_at, p.quota, d.machine_id IS NOT NULL, d.reason,
           EXISTS (SELECT 1 FROM floating_allowed_machine f WHERE f.organization_id = coalesce(c.organization_id, p_org) AND f.product_code = p_product)
           AND NOT EXISTS (SELECT 1 FROM floating_allowed_machine f
                           WHERE f.organization_id = coalesce(c.organization_id, p_org) AND f.product_code = p_product AND f.machine_id = p_machine)
    INTO v_key, v_key_used, p_org, p_user, v_last_seen,
         v_licensed, license_issued_at, license_valid_until, product_name, product_kind, product_subscription, product_expires_at, licensed,
         v_disabled, disabled_reason, v_not_listed
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN (SELECT k.key_id, k.organization_id, k.user_id, a.last_used_at
               FROM kit_api_key_caller(p_key_hash) k JOIN api_key a ON a.id = k.key_id) c ON true
    LEFT JOIN server_license l ON l.id = 1
    LEFT JOIN licensed_product p ON p.code = p_product
    LEFT JOIN disabled_machine d ON d.organization_id = coalesce(c.organization_id, p_org) AND d.machine_id = p_machine
    LEFT JOIN floating_machine m ON m.organization_id = coalesce(c.organization_id, p_org) AND m.product_code = p_product AND m.machine_id = p_machine;
    v_known := v_last_seen IS NOT NULL;
    IF p_key_hash IS NOT NULL THEN
        IF v_key IS NULL THEN outcome := 'api_key'; RETURN; END IF;
        IF v_key_used IS NULL OR v_key_used < p_now - interval '1 minute' THEN
            UPDATE api_key k SET last_used_at = p_now WHERE k.id = v_key AND (k.last_used_at IS NULL OR k.last_used_at < p_now - interval '1 minute');
        END IF;
    END IF;
    caller_org := p_org;
    caller_user := p_user;
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

    -- The pool's lock, held until the transaction commits. Everything read after it sees what the previous
    -- holder committed. An earlier call of this transaction (a batch) on the same pool holds it already, and left
    -- what it read: organization/product/quota/count/other seats/all shares/reserved.
    v_cached := string_to_array(current_setting('kit.checkout_pool', true), '/');
    IF v_cached[1] = txid_current()::text AND v_cached[2] = p_org::text AND v_cached[3] = p_product THEN
        quota := v_cached[4]::integer;
        v_live := v_cached[5]::integer;
        v_gone := 0;
        v_not_floating := v_cached[6]::bigint;
        shared := v_cached[7]::bigint;
        v_reserved := v_cached[8]::boolean;
        v_dirty := v_cached[9]::boolean;
        -- The machine was read with the caller, while this transaction held the pool's lock already.
        IF NOT v_known THEN
            SELECT count(*) INTO registered FROM floating_machine f WHERE f.organization_id = p_org AND f.product_code = p_product;
        END IF;
    ELSE
        -- The count of the pool this transaction locked last (another one), if it was left to be written
        -- (what kit_checkout_flush does; the setting is replaced below).
        IF v_cached[1] = txid_current()::text AND v_cached[9]::boolean THEN
            UPDATE product_allocation a SET floating_live = v_cached[5]::integer
            WHERE a.organization_id = v_cached[2]::bigint AND a.product_code = v_cached[3];
        END IF;
        v_dirty := false;
        SELECT a.quota, a.floating_live INTO quota, v_live
        FROM product_allocation a WHERE a.organization_id = p_org AND a.product_code = p_product FOR UPDATE;
        IF NOT FOUND THEN quota := 0; v_live := 0; END IF;
        v_gone := kit_uncount_sessions(p_org, p_product, p_now);

        -- Seats in use other than floating sessions; whether the machine is registered and when it was last seen,
        -- again under the lock, since an admin may have removed it or a checkout registered it meanwhile (if not
        -- registered, how many are: a new one is registered only while they stay within the quota); the shares of
        -- all organizations; and whether the organization reserves any of the product for teams (O5).
        SELECT kit_seats_not_floating(p_org, p_product, p_now), m.last_seen_at IS NOT NULL, m.last_seen_at,
               CASE WHEN m.last_seen_at IS NULL THEN (SELECT count(*) FROM floating_machine f WHERE f.organization_id = p_org AND f.product_code = p_product) END,
               (SELECT coalesce(sum(a.quota), 0) FROM product_allocation a WHERE a.product_code = p_product),
               EXISTS (SELECT 1 FROM team_reservation r JOIN team t ON t.id = r.team_id WHERE t.organization_id = p_org AND r.product_code = p_product)
        INTO v_not_floating, v_known, v_last_seen, registered, shared, v_reserved
        FROM (VALUES (1)) AS one (x)
        LEFT JOIN floating_machine m ON m.organization_id = p_org AND m.product_code = p_product AND m.machine_id = p_machine;
    END IF;
    in_use := v_not_floating + v_live - v_gone;
    -- Only then the reservations, with the seats they withhold from this user and whether a team of the
    -- user's has one unfilled: seven ordered aggregates cost more to set up than everything else here.
    IF v_reserved THEN
        SELECT r.ids, r.names, r.seats, r.filled, r.has_user, r.unfilled, r.mine
        INTO team_ids, team_names, team_seats, team_filled, team_has_user, v_unreserved, v_mine
        FROM (SELECT coalesce(array_agg(t.team_id ORDER BY lower(t.team_name)), '{}') AS ids,
                 coalesce(array_agg(t.team_name ORDER BY lower(t.team_name)), '{}') AS names,
                 coalesce(array_agg(t.seats ORDER BY lower(t.team_name)), '{}') AS seats,
                 coalesce(array_agg(t.filled ORDER BY lower(t.team_name)), '{}') AS filled,
                 coalesce(array_agg(cardinality(t.members) > 0 ORDER BY lower(t.team_name)), '{}') AS has_user,
                 coalesce(sum(greatest(0, t.seats - t.filled)), 0)::integer AS unfilled,
                 coalesce(bool_or(cardinality(t.members) > 0 AND t.seats > t.filled), false) AS mine
          FROM kit_team_reservations(p_org, p_product, ARRAY[p_user], 0, p_now) t) AS r;
    ELSE
        team_ids := '{}'; team_names := '{}'; team_seats := '{}'; team_filled := '{}'; team_has_user := '{}'; v_unreserved := 0; v_mine := false;
    END IF;
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

    -- The machine registered, or its last use noted to the minute (a known machine seen within the minute is
    -- not touched: an upsert would lock its row even when it changes nothing); the session; the pool's count,
    -- less the sessions that left it, plus the one granted.
    IF outcome = 'granted' AND (v_last_seen IS NULL OR v_last_seen < p_now - interval '1 minute') THEN
        INSERT INTO floating_machine (organization_id, product_code, machine_id, first_seen_at, last_seen_at)
        VALUES (p_org, p_product, p_machine, p_now, p_now)
        ON CONFLICT ON CONSTRAINT floating_machine_pkey DO UPDATE SET last_seen_at = excluded.last_seen_at
        WHERE floating_machine.last_seen_at < excluded.last_seen_at - interval '1 minute';
    END IF;
    v_defer := p_defer AND NOT v_reserved;
    IF v_defer THEN
        -- Left to the batch: the session (inserted after its last call) and the count (kit_checkout_flush).
        session_pending := outcome = 'granted';
        v_dirty := v_dirty OR session_pending OR v_gone > 0;
    ELSIF outcome = 'granted' THEN
        WITH granted AS (
            INSERT INTO floating_session (id, organization_id, product_code, user_id, machine_id, process_id, started_at, last_heartbeat_at, expires_at)
            VALUES (p_id, p_org, p_product, p_user, p_machine, p_process, p_now, p_now, p_expires))
        UPDATE product_allocation a SET floating_live = v_live - v_gone + 1
        WHERE a.organization_id = p_org AND a.product_code = p_product;
    ELSIF v_gone > 0 THEN
        UPDATE product_allocation a SET floating_live = v_live - v_gone
        WHERE a.organization_id = p_org AND a.product_code = p_product;
    END IF;

    -- For the next call of this pool in this transaction (a batch), which finds the lock held.
    -- A setting of the session, not SET LOCAL: this function's own SET clause would undo a local one when it
    -- returns. The transaction's id in it keeps any later transaction of the connection from taking it.
    -- The last part says whether the count is still to be written.
    v_set := set_config('kit.checkout_pool', format('%s/%s/%s/%s/%s/%s/%s/%s/%s', txid_current(), p_org, p_product, quota,
                                                    v_live - v_gone + CASE WHEN outcome = 'granted' THEN 1 ELSE 0 END,
                                                    v_not_floating, shared, v_reserved, v_dirty), false);
END
$$;

-- The 11-argument form, as 0020 answered it: everything written at once.
CREATE OR REPLACE FUNCTION kit_checkout_floating(
    p_key_hash bytea, p_org bigint, p_user bigint, p_product text, p_machine text, p_process text, p_id uuid, p_existing uuid,
    p_now timestamptz, p_expires timestamptz, p_clock_skew_seconds integer,
    OUT outcome text, OUT caller_org bigint, OUT caller_user bigint, OUT session_id uuid,
    OUT license_issued_at timestamptz, OUT license_valid_until timestamptz,
    OUT product_name text, OUT product_kind text, OUT product_subscription text, OUT product_expires_at timestamptz, OUT licensed integer,
    OUT quota integer, OUT in_use integer, OUT shared bigint,
    OUT disabled_reason text, OUT registered integer,
    OUT team_ids bigint[], OUT team_names text[], OUT team_seats integer[], OUT team_filled integer[], OUT team_has_user boolean[])
LANGUAGE sql AS $$
    SELECT c.outcome, c.caller_org, c.caller_user, c.session_id, c.license_issued_at, c.license_valid_until,
           c.product_name, c.product_kind, c.product_subscription, c.product_expires_at, c.licensed, c.quota, c.in_use, c.shared,
           c.disabled_reason, c.registered, c.team_ids, c.team_names, c.team_seats, c.team_filled, c.team_has_user
    FROM kit_checkout_floating(p_key_hash, p_org, p_user, p_product, p_machine, p_process, p_id, p_existing,
                               p_now, p_expires, p_clock_skew_seconds, false) c
$$;
