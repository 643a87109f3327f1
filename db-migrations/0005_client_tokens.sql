-- C1: bearer tokens of the client API. Only hashes are kept. A token carries the security stamp of
-- its user at issue: a password change or reset, or disabling the user, renews the stamp and so
-- revokes every token at once.
CREATE TABLE api_token (
    id             bigserial   PRIMARY KEY,
    user_id        bigint      NOT NULL REFERENCES public.user_account (id),
    token_hash     bytea       NOT NULL UNIQUE,
    security_stamp uuid        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz NULL
);
CREATE INDEX floating_session_user ON floating_session (organization_id, user_id) WHERE ended_at IS NULL;
