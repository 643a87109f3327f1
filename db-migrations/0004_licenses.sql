-- L2: each organization's share of a product's quota. The row is also the seat pool's lock:
-- every path that takes a seat locks it FOR UPDATE, counts, and inserts in one transaction.
CREATE TABLE product_allocation (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    quota           integer     NOT NULL CHECK (quota >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, product_code)
);

-- L3: per-user licenses.
CREATE TABLE license_assignment (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    user_id         bigint      NOT NULL REFERENCES public.user_account (id),
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    assigned_by     bigint      NULL REFERENCES public.user_account (id),
    PRIMARY KEY (organization_id, product_code, user_id)
);

-- L3: the machines a licensed user activated (the Online Licenses list); written by the client API.
CREATE TABLE machine_activation (
    id              bigserial   PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    user_id         bigint      NOT NULL REFERENCES public.user_account (id),
    machine_id      text        NOT NULL,
    activated_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL,
    UNIQUE (organization_id, product_code, user_id, machine_id)
);

-- L4: floating sessions (one per process) and the machines registered for a floating product.
CREATE TABLE floating_session (
    id                uuid        PRIMARY KEY,
    organization_id   bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code      text        NOT NULL,
    user_id           bigint      NOT NULL REFERENCES public.user_account (id),
    machine_id        text        NOT NULL,
    process_id        text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    ended_at          timestamptz NULL
);
CREATE INDEX floating_session_live ON floating_session (organization_id, product_code, expires_at) WHERE ended_at IS NULL;

CREATE TABLE floating_machine (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    machine_id      text        NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, product_code, machine_id)
);

-- L7: offline licenses. Never revoked, never transferred: each holds a seat until it expires.
CREATE TABLE offline_license (
    id              uuid        PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    machine_id      text        NOT NULL,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      bigint      NOT NULL REFERENCES public.user_account (id),
    file_name       text        NOT NULL,
    file_text       text        NOT NULL
);
CREATE INDEX offline_license_pool ON offline_license (organization_id, product_code, expires_at);

-- L6: API keys, per user and organization; only the SHA-256 of a key is kept.
CREATE TABLE api_key (
    id              bigserial   PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    user_id         bigint      NOT NULL REFERENCES public.user_account (id),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix          text        NOT NULL,
    key_hash        bytea       NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NULL,
    revoked_at      timestamptz NULL
);
CREATE INDEX api_key_owner ON api_key (organization_id, user_id);
