-- The caller an API key stands for, when it may act: the key is live (not revoked) and its owner an enabled
-- member of the key's organization. Heartbeats, releases and checkouts check their key with it in the
-- statement that does their work; no row means the key is refused.
CREATE OR REPLACE FUNCTION kit_api_key_caller(p_key_hash bytea) RETURNS TABLE (key_id bigint, organization_id bigint, user_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.organization_id, k.user_id
    FROM api_key k JOIN public.user_account u ON u.id = k.user_id
    WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND NOT u.disabled
      AND EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = k.organization_id AND m.user_id = k.user_id)
$$;
