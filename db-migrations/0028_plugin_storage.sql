-- The bytes of plugin packages, in the database: every server node serves every package, and a node keeps
-- nothing of its own on disk. The bytes are stored once per SHA-256, so identical uploads share them, and a
-- blob is removed with the last package that uses it. They are split into chunks of about 1 MiB, so that an
-- upload or a download holds one chunk in memory at a time and a range request (a resumed download) reads
-- only the chunks it covers; chunk_bytes says how large each chunk but the last of a blob is.
CREATE TABLE plugin_blob (
    sha256      text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint      NOT NULL CHECK (size_bytes > 0),
    chunk_bytes integer     NOT NULL CHECK (chunk_bytes > 0),
    stored_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plugin_chunk (
    sha256 text    NOT NULL REFERENCES plugin_blob (sha256) ON DELETE CASCADE,
    n      integer NOT NULL CHECK (n >= 0),
    bytes  bytea   NOT NULL,
    PRIMARY KEY (sha256, n)
);
-- A package is a zip, compressed already: its chunks are kept out of line as they are, so that PostgreSQL
-- spends no CPU trying to compress them again.
ALTER TABLE plugin_chunk ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- Every package stored from now on has its bytes. NOT VALID: the packages of the versions before kept theirs in
-- the data directory of the node that took the upload; the server moves them in at its next start, and a file
-- that does not match its SHA-256 never moves, so its package stays without bytes until it is uploaded again.
ALTER TABLE plugin_package ADD CONSTRAINT plugin_package_bytes FOREIGN KEY (sha256) REFERENCES plugin_blob (sha256) NOT VALID;
