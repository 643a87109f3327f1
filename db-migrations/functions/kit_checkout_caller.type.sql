-- What kit_checkout_read_caller answers for one checkout and kit_checkout_decide reads: the caller (without a
-- key, p_key_hash null, no key row is found and the organization and user are the ones given), the server's
-- license, the product, the machine's state, and whether the caller lacks the floating assignment it needs. A
-- type cannot be replaced in place: this file makes it where it does not exist yet, and a change to its
-- attributes needs a numbered migration that alters it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'kit_checkout_caller' AND typnamespace = 'public'::regnamespace) THEN
        CREATE TYPE kit_checkout_caller AS (
            key_id bigint, key_used_at timestamptz, organization_id bigint, user_id bigint,
            licensed boolean, license_issued_at timestamptz, license_valid_until timestamptz,
            product_name text, product_kind text, product_subscription text, product_expires_at timestamptz, product_quota integer,
            machine_disabled boolean, disabled_reason text, machine_not_listed boolean, not_assigned boolean);
    END IF;
END
$$;
