-- Signing in with the company's directory (LDAP / Active Directory) or an OpenID Connect provider.

-- The server's directory and provider settings: one row, changed by a server admin. Passwords and secrets are
-- stored protected by the server's keyring, as mail passwords are. local_passwords says who may still sign in with
-- a password of this server's own: everyone, or only server admins once a directory or provider is set.
CREATE TABLE directory_settings (
    id                     smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    ldap_enabled           boolean     NOT NULL DEFAULT false,
    ldap_hosts             text        NOT NULL DEFAULT '',
    ldap_port              integer     NOT NULL DEFAULT 389 CHECK (ldap_port BETWEEN 1 AND 65535),
    ldap_security          text        NOT NULL DEFAULT 'starttls' CHECK (ldap_security IN ('none', 'starttls', 'ldaps')),
    ldap_ca_certificate    text        NULL,
    ldap_bind_dn           text        NOT NULL DEFAULT '',
    ldap_bind_password_protected text  NULL,
    ldap_search_base       text        NOT NULL DEFAULT '',
    ldap_user_filter       text        NOT NULL DEFAULT '(&(objectClass=person)(mail={0}))',
    ldap_email_attribute   text        NOT NULL DEFAULT 'mail',
    ldap_name_attribute    text        NOT NULL DEFAULT 'displayName',
    ldap_group_filter      text        NOT NULL DEFAULT '(&(objectClass=groupOfNames)(member={0}))',
    oidc_enabled           boolean     NOT NULL DEFAULT false,
    oidc_name              text        NOT NULL DEFAULT '',
    oidc_issuer            text        NOT NULL DEFAULT '',
    oidc_client_id         text        NOT NULL DEFAULT '',
    oidc_client_secret_protected text  NULL,
    oidc_scopes            text        NOT NULL DEFAULT 'openid email profile',
    oidc_email_claim       text        NOT NULL DEFAULT 'email',
    oidc_groups_claim      text        NOT NULL DEFAULT 'groups',
    local_passwords        text        NOT NULL DEFAULT 'everyone' CHECK (local_passwords IN ('everyone', 'server_admins')),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
INSERT INTO directory_settings (id) VALUES (1);

-- A directory group (its DN for LDAP, a value of the groups claim for OpenID Connect) gives its people a role in an
-- organization, applied at each sign-in through that source.
CREATE TABLE directory_group_mapping (
    id              bigserial   PRIMARY KEY,
    source          text        NOT NULL CHECK (source IN ('ldap', 'oidc')),
    group_name      text        NOT NULL CHECK (length(group_name) BETWEEN 1 AND 1000),
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    role            text        NOT NULL CHECK (role IN ('admin', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, group_name, organization_id)
);

-- Which directory entry (source 'ldap': its DN) or provider subject (source 'oidc': "<issuer> <subject>") signs in to
-- an account: at most one of each source per account, and an entry or subject signs in to one account only. An
-- account with a link signs in only through it (its password of this server is cleared when the link is made).
CREATE TABLE directory_link (
    source      text        NOT NULL CHECK (source IN ('ldap', 'oidc')),
    external_id text        NOT NULL CHECK (length(external_id) BETWEEN 1 AND 2000),
    user_id     bigint      NOT NULL REFERENCES public.user_account (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, external_id),
    UNIQUE (user_id, source)
);

-- A directory account is checked against the directory again while it can act here: holding tokens or API keys,
-- or signed in within a console session's lifetime (directory_signed_in_at). directory_disabled marks an account
-- the directory disabled (not an admin), which a later sign-in through the directory enables again.
ALTER TABLE public.user_account
    ADD COLUMN display_name text NULL,
    ADD COLUMN directory_signed_in_at timestamptz NULL,
    ADD COLUMN directory_checked_at timestamptz NULL,
    ADD COLUMN directory_disabled boolean NOT NULL DEFAULT false;

-- A membership given by a group mapping names the group; it goes when the person is no longer in the group at a
-- later sign-in. Memberships from invitations have none and are never taken by a mapping.
ALTER TABLE organization_member ADD COLUMN directory_group text NULL;

-- A sign-in through the OpenID provider in progress: the state sent to the provider (its hash), the nonce and the
-- PKCE verifier it must come back with, the browser it was started in (a hash of a cookie's value), and, for the
-- desktop flow, the client's loopback redirect, its own state and its PKCE challenge. When the provider answers,
-- a desktop sign-in gets a one-time code (its hash), exchanged once for a bearer token. Rows live minutes.
CREATE TABLE sso_request (
    state_hash        bytea       PRIMARY KEY,
    browser_hash      bytea       NOT NULL,
    nonce             text        NOT NULL,
    code_verifier     text        NOT NULL,
    return_url        text        NULL,
    client_redirect   text        NULL,
    client_state      text        NULL,
    client_challenge  text        NULL,
    code_hash         bytea       NULL UNIQUE,
    user_id           bigint      NULL REFERENCES public.user_account (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL
);
CREATE INDEX sso_request_expiry ON sso_request (expires_at);
