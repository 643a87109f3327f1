-- What a floating checkout reads before it locks its pool: the caller (the API key's owner, or the member
-- given when p_key_hash is null), the server's license, the product, the machine's state (disabled, or
-- missing from the product's allow-list), and whether the caller lacks an assignment of the product that their
-- organization requires (floating_assigned_only), as one row whatever is missing. An SQL function of one query, so
-- that a batch of checkouts inlines it and reads every call's caller at once.
CREATE OR REPLACE FUNCTION kit_checkout_read_caller(p_key_hash bytea, p_org bigint, p_user bigint, p_product text, p_machine text)
RETURNS SETOF kit_checkout_caller
LANGUAGE sql STABLE AS $$
    SELECT c.key_id, c.last_used_at, coalesce(c.organization_id, p_org), coalesce(c.user_id, p_user),
           l.id IS NOT NULL, l.issued_at, l.valid_until, p.name, p.kind, p.subscription, p.expires_at, p.quota, d.machine_id IS NOT NULL, d.reason,
           EXISTS (SELECT 1 FROM floating_allowed_machine f WHERE f.organization_id = coalesce(c.organization_id, p_org) AND f.product_code = p_product)
           AND NOT EXISTS (SELECT 1 FROM floating_allowed_machine f
                           WHERE f.organization_id = coalesce(c.organization_id, p_org) AND f.product_code = p_product AND f.machine_id = p_machine),
           coalesce(o.floating_assigned_only, false)
           AND NOT EXISTS (SELECT 1 FROM floating_assignment a
                           WHERE a.organization_id = o.id AND a.product_code = p_product AND a.user_id = coalesce(c.user_id, p_user))
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN (SELECT k.key_id, k.organization_id, k.user_id, k.last_used_at
               FROM kit_api_key_caller(p_key_hash) k WHERE k.refusal IS NULL) c ON true
    LEFT JOIN server_license l ON l.id = 1
    LEFT JOIN licensed_product p ON p.code = p_product
    LEFT JOIN organization o ON o.id = coalesce(c.organization_id, p_org)
    LEFT JOIN disabled_machine d ON d.organization_id = coalesce(c.organization_id, p_org) AND d.machine_id = p_machine
$$;
