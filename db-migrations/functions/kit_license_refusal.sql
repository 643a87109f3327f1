-- Whether the server's license is in force at p_now: NULL when it is, otherwise the code of the refusal, in this
-- order: server_not_activated (no license: p_issued_at is NULL), license_expired, clock_tampering (a license
-- issued later than the clock allows, beyond p_clock_skew_seconds, means the clock was set back). The one
-- statement of this rule: checkouts, heartbeats, activations, renewals, grants and offline licenses all ask it.
-- STABLE, as adding an interval to a timestamptz is: PostgreSQL inlines a function only when it is declared no
-- stricter than its body, and a checkout that called it instead of inlining it would pay a plan for each call.
CREATE OR REPLACE FUNCTION kit_license_refusal(p_issued_at timestamptz, p_valid_until timestamptz, p_now timestamptz, p_clock_skew_seconds integer)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_issued_at IS NULL THEN 'server_not_activated'
        WHEN p_valid_until <= p_now THEN 'license_expired'
        WHEN p_issued_at > p_now + make_interval(secs => p_clock_skew_seconds) THEN 'clock_tampering'
    END
$$;
