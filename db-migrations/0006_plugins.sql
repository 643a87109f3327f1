-- P1-P3: the local plugin repository. Package bytes live on disk under the data directory,
-- content-addressed by SHA-256 (plugins/<aa>/<sha256>.zip); this table holds what they are.
-- 'offline' packages (from the vendor's store) are visible to every organization's clients;
-- 'private' ones only to the organization that uploaded them.
CREATE TABLE plugin_package (
    id              bigserial   PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    plugin_id       text        NOT NULL,
    name            text        NOT NULL,
    version         text        NOT NULL,
    compatible      text        NOT NULL,
    description     text        NOT NULL DEFAULT '',
    kind            text        NOT NULL CHECK (kind IN ('offline', 'private')),
    sha256          text        NOT NULL,
    size_bytes      bigint      NOT NULL,
    uploaded_by     bigint      NOT NULL REFERENCES public.user_account (id),
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, plugin_id, version)
);
CREATE INDEX plugin_package_sha ON plugin_package (sha256);
CREATE INDEX plugin_package_visible ON plugin_package (kind, plugin_id);
