-- The floating checkout: decides one call and takes its seat under the pool's lock. The outcome is 'granted'
-- (session_id is p_id), 'reused' (p_existing is a live session of the same user and machine, renewed),
-- 'api_key' (p_key_given and the key may not act), or the code of the first rule that refuses the seat, in
-- this order: server_not_activated, license_expired, clock_tampering, unknown_product, not_floating,
-- product_expired, not_assigned, machine_disabled, machine_not_allowed, machine_limit, over_allocated, quota_exceeded,
-- reserved. The other columns are the numbers the rules read, so that the server words the refusal from them.
--
-- The pool row (product_allocation) is locked FOR UPDATE until the transaction ends; a wait past lock_timeout
-- raises 55P03. Its floating_live counts its live sessions: sessions that left the pool come off it
-- (kit_uncount_sessions) at most every 200 ms, and always before the count refuses a seat, so between sweeps
-- the count can only be too high and a seat it grants an exact count would have granted too.
--
-- With p_defer, a call of a batch leaves its writes to the batch: a granted session is answered as pending
-- (session_pending) and inserted by the batch after its last call, and the pool's count is kept in the setting
-- kit.checkout_pool and written when the next call locks another pool, or by kit_checkout_flush. Where the
-- organization reserves seats for teams each session is written at once, since a team's filled seats count
-- its members' sessions. A refusal writes nothing but bookkeeping: the sweep, and a key's last use (once a
-- minute).
CREATE OR REPLACE FUNCTION kit_checkout_decide(
    p_caller kit_checkout_caller, p_key_given boolean, p_product text, p_machine text, p_process text, p_id uuid, p_existing uuid,
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
    v_org bigint := (p_caller).organization_id;
    v_user bigint := (p_caller).user_id;
    v_live integer;
    v_gone integer;
    v_known boolean;
    v_unreserved integer;
    v_unfilled integer;
    v_swept boolean;
    v_swept_at timestamptz;
    v_more integer;
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
    -- What was read for the caller before any pool's lock (kit_checkout_read_caller).
    license_issued_at := (p_caller).license_issued_at;
    license_valid_until := (p_caller).license_valid_until;
    product_name := (p_caller).product_name;
    product_kind := (p_caller).product_kind;
    product_subscription := (p_caller).product_subscription;
    product_expires_at := (p_caller).product_expires_at;
    licensed := (p_caller).product_quota;
    disabled_reason := (p_caller).disabled_reason;
    IF p_key_given THEN
        IF (p_caller).key_id IS NULL THEN outcome := 'api_key'; RETURN; END IF;
        IF (p_caller).key_used_at IS NULL OR (p_caller).key_used_at < p_now - interval '1 minute' THEN
            UPDATE api_key k SET last_used_at = p_now
            WHERE k.id = (p_caller).key_id AND (k.last_used_at IS NULL OR k.last_used_at < p_now - interval '1 minute');
        END IF;
    END IF;
    caller_org := v_org;
    caller_user := v_user;
    outcome := kit_license_refusal(license_issued_at, license_valid_until, p_now, p_clock_skew_seconds);
    IF outcome IS NOT NULL THEN RETURN; END IF;
    IF product_kind IS NULL THEN outcome := 'unknown_product'; RETURN; END IF;
    IF product_kind <> 'floating' THEN outcome := 'not_floating'; RETURN; END IF;
    IF product_expires_at <= p_now THEN outcome := 'product_expired'; RETURN; END IF;
    IF (p_caller).not_assigned THEN outcome := 'not_assigned'; RETURN; END IF;
    IF (p_caller).machine_disabled THEN outcome := 'machine_disabled'; RETURN; END IF;
    IF (p_caller).machine_not_listed THEN outcome := 'machine_not_allowed'; RETURN; END IF;

    -- A repeated session id of the same user and machine, still live, keeps its seat.
    IF p_existing IS NOT NULL THEN
        UPDATE floating_session s SET expires_at = p_expires, last_heartbeat_at = p_now
        WHERE s.id = p_existing AND s.organization_id = v_org AND s.product_code = p_product AND s.user_id = v_user
          AND s.machine_id = p_machine AND s.ended_at IS NULL AND s.expires_at > p_now
        RETURNING s.id INTO session_id;
        IF FOUND THEN outcome := 'reused'; RETURN; END IF;
    END IF;

    -- The pool's lock, held until the transaction commits. Everything read after it sees what the previous
    -- holder committed. An earlier call of this transaction (a batch) on the same pool holds it already, and left
    -- what it read: organization/product/quota/count/other seats/all shares/reserved/count to be written/swept.
    v_cached := string_to_array(current_setting('kit.checkout_pool', true), '/');
    IF v_cached[1] = txid_current()::text AND v_cached[2] = v_org::text AND v_cached[3] = p_product THEN
        quota := v_cached[4]::integer;
        v_live := v_cached[5]::integer;
        v_gone := 0;
        v_not_floating := v_cached[6]::bigint;
        shared := v_cached[7]::bigint;
        v_reserved := v_cached[8]::boolean;
        v_dirty := v_cached[9]::boolean;
        v_swept := v_cached[10]::boolean;
        -- The machine, under the lock that this transaction holds already.
        SELECT m.last_seen_at INTO v_last_seen
        FROM floating_machine m WHERE m.organization_id = v_org AND m.product_code = p_product AND m.machine_id = p_machine;
        v_known := v_last_seen IS NOT NULL;
        IF NOT v_known THEN
            SELECT count(*) INTO registered FROM floating_machine f WHERE f.organization_id = v_org AND f.product_code = p_product;
        END IF;
    ELSE
        -- The count of the pool this transaction locked last (another one), if it was left to be written
        -- (what kit_checkout_flush does; the setting is replaced below).
        IF v_cached[1] = txid_current()::text AND v_cached[9]::boolean THEN
            UPDATE product_allocation a SET floating_live = v_cached[5]::integer
            WHERE a.organization_id = v_cached[2]::bigint AND a.product_code = v_cached[3];
        END IF;
        v_dirty := false;
        SELECT a.quota, a.floating_live, a.floating_swept_at INTO quota, v_live, v_swept_at
        FROM product_allocation a WHERE a.organization_id = v_org AND a.product_code = p_product FOR UPDATE;
        IF NOT FOUND THEN quota := 0; v_live := 0; END IF;
        -- The sessions that left the pool come off its count at most every 200 ms (and before any refusal
        -- that the count decides, below): in between, the count can only be too high, never too low.
        v_swept := v_swept_at IS NULL OR v_swept_at <= p_now - interval '200 milliseconds';
        v_gone := 0;
        IF v_swept THEN
            v_gone := kit_uncount_sessions(v_org, p_product, p_now);
            UPDATE product_allocation a SET floating_swept_at = p_now WHERE a.organization_id = v_org AND a.product_code = p_product;
        END IF;

        -- Seats in use other than floating sessions; whether the machine is registered and when it was last seen,
        -- again under the lock, since an admin may have removed it or a checkout registered it meanwhile (if not
        -- registered, how many are: a new one is registered only while they stay within the quota); the shares of
        -- all organizations; and whether the organization reserves any of the product for teams.
        SELECT kit_seats_not_floating(v_org, p_product, p_now), m.last_seen_at IS NOT NULL, m.last_seen_at,
               CASE WHEN m.last_seen_at IS NULL THEN (SELECT count(*) FROM floating_machine f WHERE f.organization_id = v_org AND f.product_code = p_product) END,
               (SELECT coalesce(sum(a.quota), 0) FROM product_allocation a WHERE a.product_code = p_product),
               EXISTS (SELECT 1 FROM team_reservation r JOIN team t ON t.id = r.team_id WHERE t.organization_id = v_org AND r.product_code = p_product)
        INTO v_not_floating, v_known, v_last_seen, registered, shared, v_reserved
        FROM (VALUES (1)) AS one (x)
        LEFT JOIN floating_machine m ON m.organization_id = v_org AND m.product_code = p_product AND m.machine_id = p_machine;
    END IF;
    in_use := v_not_floating + v_live - v_gone;
    -- Only then the reservations, with the seats they withhold from this user and whether a team of the
    -- user's has one unfilled: seven ordered aggregates cost more to set up than everything else here.
    IF v_reserved THEN
        SELECT r.ids, r.names, r.seats, r.filled, r.has_user, r.unfilled, r.mine
        INTO team_ids, team_names, team_seats, team_filled, team_has_user, v_unfilled, v_mine
        FROM (SELECT coalesce(array_agg(t.team_id ORDER BY lower(t.team_name)), '{}') AS ids,
                 coalesce(array_agg(t.team_name ORDER BY lower(t.team_name)), '{}') AS names,
                 coalesce(array_agg(t.seats ORDER BY lower(t.team_name)), '{}') AS seats,
                 coalesce(array_agg(t.filled ORDER BY lower(t.team_name)), '{}') AS filled,
                 coalesce(array_agg(cardinality(t.members) > 0 ORDER BY lower(t.team_name)), '{}') AS has_user,
                 coalesce(sum(greatest(0, t.seats - t.filled)), 0)::integer AS unfilled,
                 coalesce(bool_or(cardinality(t.members) > 0 AND t.seats > t.filled), false) AS mine
          FROM kit_team_reservations(v_org, p_product, ARRAY[v_user], 0, p_now) t) AS r;
    ELSE
        team_ids := '{}'; team_names := '{}'; team_seats := '{}'; team_filled := '{}'; team_has_user := '{}'; v_unfilled := 0; v_mine := false;
    END IF;

    LOOP
        v_unreserved := quota - in_use - v_unfilled;
        IF NOT v_known AND quota > 0 AND registered >= quota THEN
            outcome := 'machine_limit';
        ELSIF shared > licensed THEN
            outcome := 'over_allocated';
        ELSIF quota - in_use < 1 THEN
            outcome := 'quota_exceeded';
        -- The unfilled part of every reservation is withheld from users outside that team.
        ELSIF v_unreserved < 1 AND NOT v_mine THEN
            outcome := 'reserved';
        ELSE
            outcome := 'granted';
            session_id := p_id;
        END IF;
        -- A refusal for the seats in use is decided on an exact count: the pool is swept first, if it was not
        -- in this transaction, and the rules are applied again.
        EXIT WHEN v_swept OR outcome NOT IN ('quota_exceeded', 'reserved');
        v_more := kit_uncount_sessions(v_org, p_product, p_now);
        UPDATE product_allocation a SET floating_swept_at = p_now WHERE a.organization_id = v_org AND a.product_code = p_product;
        v_gone := v_gone + v_more;
        in_use := in_use - v_more;
        v_swept := true;
    END LOOP;

    -- The machine registered, or its last use noted to the minute (a known machine seen within the minute is
    -- not touched: an upsert would lock its row even when it changes nothing); the session; the pool's count,
    -- less the sessions that left it, plus the one granted.
    IF outcome = 'granted' AND (v_last_seen IS NULL OR v_last_seen < p_now - interval '1 minute') THEN
        INSERT INTO floating_machine (organization_id, product_code, machine_id, first_seen_at, last_seen_at)
        VALUES (v_org, p_product, p_machine, p_now, p_now)
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
            VALUES (p_id, v_org, p_product, v_user, p_machine, p_process, p_now, p_now, p_expires))
        UPDATE product_allocation a SET floating_live = v_live - v_gone + 1
        WHERE a.organization_id = v_org AND a.product_code = p_product;
    ELSIF v_gone > 0 THEN
        UPDATE product_allocation a SET floating_live = v_live - v_gone
        WHERE a.organization_id = v_org AND a.product_code = p_product;
    END IF;

    -- For the next call of this pool in this transaction (a batch), which finds the lock held.
    -- A setting of the session, not SET LOCAL: this function's own SET clause would undo a local one when it
    -- returns. The transaction's id in it keeps any later transaction of the connection from taking it.
    -- The last parts say whether the count is still to be written, and whether the pool was swept.
    v_set := set_config('kit.checkout_pool', format('%s/%s/%s/%s/%s/%s/%s/%s/%s/%s', txid_current(), v_org, p_product, quota,
                                                    v_live - v_gone + CASE WHEN outcome = 'granted' THEN 1 ELSE 0 END,
                                                    v_not_floating, shared, v_reserved, v_dirty, v_swept), false);
END
$$;
