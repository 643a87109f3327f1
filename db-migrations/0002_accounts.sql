-- Accounts (U1-U5). The table and the columns password / password_encrypted are named exactly
-- as the seeds' SQL fallback writes them:
--   UPDATE public.user_account SET password='<_password_>', password_encrypted=false WHERE email = '<_email_>'
-- A row with password_encrypted = false holds a plain password that is accepted once and re-hashed.
CREATE TABLE public.user_account (
    id                   bigserial   PRIMARY KEY,
    email                text        NOT NULL,
    password             text        NULL,
    password_encrypted   boolean     NOT NULL DEFAULT true,
    must_change_password boolean     NOT NULL DEFAULT false,
    is_server_admin      boolean     NOT NULL DEFAULT false,
    is_default_account   boolean     NOT NULL DEFAULT false,
    disabled             boolean     NOT NULL DEFAULT false,
    security_stamp       uuid        NOT NULL DEFAULT gen_random_uuid(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    password_changed_at  timestamptz NULL
);

CREATE UNIQUE INDEX user_account_email_key ON public.user_account (lower(email));
-- The default account (A3) is created once: a second one cannot exist, whatever races.
CREATE UNIQUE INDEX user_account_one_default ON public.user_account (is_default_account) WHERE is_default_account;

-- Failed sign-ins, per (address, email), for throttling (U1). Shared by every node.
CREATE TABLE sign_in_failure (
    id        bigserial   PRIMARY KEY,
    address   text        NOT NULL,
    email     text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failure_lookup ON sign_in_failure (email, address, failed_at);
