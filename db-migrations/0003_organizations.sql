-- Organizations, members and roles (O1, O4).
CREATE TABLE organization (
    id         bigserial   PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_by bigint      NOT NULL REFERENCES public.user_account (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organization_member (
    organization_id     bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    user_id             bigint      NOT NULL REFERENCES public.user_account (id),
    role                text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    can_manage_licenses boolean     NOT NULL DEFAULT false,
    joined_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_member_user ON organization_member (user_id);

-- Invitations (O2, O3). The link's secret is stored only as its SHA-256 hash.
CREATE TABLE invitation (
    id               bigserial   PRIMARY KEY,
    organization_id  bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    email            text        NOT NULL,
    user_id          bigint      NOT NULL REFERENCES public.user_account (id),
    token_hash       bytea       NOT NULL UNIQUE,
    invited_by       bigint      NOT NULL REFERENCES public.user_account (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    accepted_at      timestamptz NULL,
    revoked_at       timestamptz NULL
);
-- One open invitation per organization and email.
CREATE UNIQUE INDEX invitation_one_open ON invitation (organization_id, lower(email)) WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Teams (O5).
CREATE TABLE team (
    id              bigserial   PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX team_name_per_organization ON team (organization_id, lower(name));

CREATE TABLE team_member (
    team_id  bigint      NOT NULL REFERENCES team (id) ON DELETE CASCADE,
    user_id  bigint      NOT NULL REFERENCES public.user_account (id),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);

-- Mail server per organization (O6). The password is encrypted with ASP.NET Data Protection.
CREATE TABLE mail_settings (
    organization_id    bigint      PRIMARY KEY REFERENCES organization (id) ON DELETE CASCADE,
    host               text        NOT NULL,
    port               integer     NOT NULL CHECK (port BETWEEN 1 AND 65535),
    username           text        NULL,
    password_protected text        NULL,
    protocol           text        NOT NULL CHECK (protocol IN ('plain', 'starttls', 'smtps')),
    sender             text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Forgot password (U3): single-use, expiring links, stored as hashes.
CREATE TABLE password_reset (
    id         bigserial   PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES public.user_account (id),
    token_hash bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz NULL
);

-- Audit of membership (and later license) actions: who, what, when (L8 shows it).
CREATE TABLE audit_event (
    id              bigserial   PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor_user_id   bigint      NULL REFERENCES public.user_account (id),
    organization_id bigint      NULL REFERENCES organization (id) ON DELETE SET NULL,
    action          text        NOT NULL,
    subject         text        NULL,
    details         text        NULL
);
CREATE INDEX audit_event_organization ON audit_event (organization_id, at DESC);
