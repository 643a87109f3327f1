-- The checks of a per-user activation or renewal, in their order, from what the activation's statement read:
-- membership (not_a_member), the server's license in force (the refusal of kit_license_refusal, passed in), the
-- product known, per-user and not ended (unknown_product, not_per_user, product_expired), the user's assignment
-- (not_licensed), the machine not disabled in the organization (machine_disabled). NULL when every check passes.
-- Each argument is used once, so that PostgreSQL inlines the function into the statement, and an argument that
-- reads (the assignment, locked FOR UPDATE) is read only when its check is reached. The one statement of these
-- checks: the console's activation and the batched renewal by token share the statement that calls it
-- (MachineActivationRepository).
CREATE OR REPLACE FUNCTION kit_activation_refusal(
    p_member boolean, p_license_refusal text, p_product_kind text, p_product_expires_at timestamptz, p_now timestamptz,
    p_assigned boolean, p_machine_disabled boolean)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN NOT p_member THEN 'not_a_member'
        WHEN p_license_refusal IS NOT NULL THEN p_license_refusal
        WHEN p_product_kind IS NULL THEN 'unknown_product'
        WHEN p_product_kind <> 'per-user' THEN 'not_per_user'
        WHEN p_product_expires_at <= p_now THEN 'product_expired'
        WHEN NOT p_assigned THEN 'not_licensed'
        WHEN p_machine_disabled THEN 'machine_disabled'
    END
$$;
