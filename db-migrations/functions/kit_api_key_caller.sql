-- The caller an API key stands for, and whether it may act: refusal is NULL when the key is live and its owner an
-- enabled member of the key's organization; otherwise api_key_revoked, or not_a_member (the owner left the
-- organization or was disabled). No row for a key the server does not know. The statements that do a key's work
-- (checkouts, heartbeats, releases) keep the rows without a refusal; the API asks again only to say why one did
-- nothing. The one statement of this rule.
CREATE OR REPLACE FUNCTION kit_api_key_caller(p_key_hash bytea)
RETURNS TABLE (key_id bigint, organization_id bigint, user_id bigint, email text, last_used_at timestamptz, refusal text)
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.organization_id, k.user_id, u.email, k.last_used_at,
           CASE
               WHEN k.revoked_at IS NOT NULL THEN 'api_key_revoked'
               WHEN u.disabled OR NOT EXISTS (SELECT 1 FROM organization_member m WHERE m.organization_id = k.organization_id AND m.user_id = k.user_id)
                   THEN 'not_a_member'
           END
    FROM api_key k JOIN public.user_account u ON u.id = k.user_id
    WHERE k.key_hash = p_key_hash
$$;
