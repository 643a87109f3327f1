-- The database's functions and types live in db-migrations/functions/, one file each, and are applied after the
-- numbered migrations whenever a file's text changed. This journal holds the SHA-256 of the text each file was
-- last applied from.
CREATE TABLE function_script (
    name text PRIMARY KEY,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- The one-call checkout of earlier versions, which only servers not yet upgraded called: an upgrade stops every
-- node first, and this version checks out through kit_checkout_read_caller and kit_checkout_decide.
DROP FUNCTION kit_checkout_floating(bytea, bigint, bigint, text, text, text, uuid, uuid, timestamptz, timestamptz, integer);
DROP FUNCTION kit_checkout_floating(bytea, bigint, bigint, text, text, text, uuid, uuid, timestamptz, timestamptz, integer, boolean);
