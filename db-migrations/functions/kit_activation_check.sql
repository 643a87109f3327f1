-- The checks of a per-user activation or renewal of user p_user's product p_product on machine p_machine, in
-- this order: membership (not_a_member), the server's license in force (kit_license_refusal), the product known,
-- per-user and not ended (unknown_product, not_per_user, product_expired), the user's assignment (not_licensed;
-- locked FOR UPDATE, so that one user's activations are serialised and an unassign waits for them), the machine
-- not disabled in the organization (machine_disabled). refusal is NULL when every check passes, else the code
-- of the first that fails; the other columns are what the lease and the refusal's sentence need. The one
-- statement of these checks: the console's activation and the batched renewal by token both ask it.
CREATE OR REPLACE FUNCTION kit_activation_check(
    p_org bigint, p_user bigint, p_product text, p_machine text, p_now timestamptz, p_clock_skew_seconds integer,
    OUT refusal text, OUT email text, OUT organization_name text, OUT license_valid_until timestamptz, OUT license_file_text text,
    OUT product_name text, OUT product_kind text, OUT product_subscription text, OUT product_expires_at timestamptz, OUT product_quota integer,
    OUT disabled_reason text)
LANGUAGE plpgsql AS $$
DECLARE
    v_issued_at timestamptz;
BEGIN
    SELECT u.email, o.name INTO email, organization_name
    FROM public.user_account u
    LEFT JOIN (organization_member m JOIN organization o ON o.id = m.organization_id) ON m.user_id = u.id AND m.organization_id = p_org
    WHERE u.id = p_user;
    IF organization_name IS NULL THEN refusal := 'not_a_member'; RETURN; END IF;

    SELECT l.issued_at, l.valid_until, l.file_text INTO v_issued_at, license_valid_until, license_file_text FROM server_license l WHERE l.id = 1;
    refusal := kit_license_refusal(v_issued_at, license_valid_until, p_now, p_clock_skew_seconds);
    IF refusal IS NOT NULL THEN RETURN; END IF;

    SELECT p.name, p.kind, p.subscription, p.expires_at, p.quota INTO product_name, product_kind, product_subscription, product_expires_at, product_quota
    FROM licensed_product p WHERE p.code = p_product;
    IF product_kind IS NULL THEN refusal := 'unknown_product'; RETURN; END IF;
    IF product_kind <> 'per-user' THEN refusal := 'not_per_user'; RETURN; END IF;
    IF product_expires_at <= p_now THEN refusal := 'product_expired'; RETURN; END IF;

    PERFORM 1 FROM license_assignment a WHERE a.organization_id = p_org AND a.product_code = p_product AND a.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN refusal := 'not_licensed'; RETURN; END IF;

    SELECT d.reason INTO disabled_reason FROM disabled_machine d WHERE d.organization_id = p_org AND d.machine_id = p_machine;
    IF FOUND THEN refusal := 'machine_disabled'; END IF;
END
$$;
