-- One row: this installation's identity and its server key (C4). The private half is
-- encrypted with ASP.NET Data Protection before it is stored.
CREATE TABLE installation (
    id                           integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    installation_id              text        NOT NULL,
    server_public_key            text        NOT NULL,
    server_private_key_protected text        NOT NULL,
    created_at                   timestamptz NOT NULL DEFAULT now()
);

-- The active vendor license (A2). One row or none: none means the server is not activated.
CREATE TABLE server_license (
    id           integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    license_id   uuid        NOT NULL,
    customer     text        NOT NULL,
    issued_at    timestamptz NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz NULL,
    file_text    text        NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now()
);

-- Products of the active license (L1), rewritten whenever a license is activated.
CREATE TABLE licensed_product (
    code         text        PRIMARY KEY,
    name         text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('per-user', 'floating')),
    quota        integer     NOT NULL CHECK (quota >= 0),
    subscription text        NOT NULL CHECK (subscription IN ('annual', 'perpetual')),
    expires_at   timestamptz NULL
);

-- ASP.NET Data Protection key ring, shared by every node and every restart.
CREATE TABLE data_protection_key (
    friendly_name text        PRIMARY KEY,
    xml           text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
