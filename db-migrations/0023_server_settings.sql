-- What belongs to the server, not to any one organization: its own settings, its own mail server and the
-- plugin packages every organization receives. Organizations share one installation, so nothing that acts
-- on a person's credentials or on what every organization gets may hang on an organization's settings.

-- The server's settings: one row. Who may create organizations (server admins only unless the server admin
-- opens it to every signed-in user), and the hash of the one-time setup code that creating the default
-- account asks for (NULL once that account exists, or before activation).
CREATE TABLE server_settings (
    id                    smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    organization_creation text        NOT NULL DEFAULT 'server_admins' CHECK (organization_creation IN ('server_admins', 'anyone')),
    setup_code_hash       bytea       NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
INSERT INTO server_settings (id) VALUES (1);

-- The server's own mail server is the row of mail_settings without an organization. It alone carries mail
-- about a person's account (password resets, password changes, expiry warnings to server admins); an
-- organization's row carries that organization's own notices. One row per organization, and one for the server.
ALTER TABLE mail_settings DROP CONSTRAINT mail_settings_pkey;
ALTER TABLE mail_settings ALTER COLUMN organization_id DROP NOT NULL;
CREATE UNIQUE INDEX mail_settings_scope ON mail_settings ((coalesce(organization_id, 0)));

-- Offline packages (from the vendor's store) are the server's: every organization's clients see them, so only
-- a server admin uploads or deletes them, and they belong to no organization. Private packages belong to the
-- organization that uploaded them. Packages marked offline by an organization before now become the server's,
-- listed with who uploaded them, for the server admin to review. Where several organizations marked the same
-- plugin id and version offline, the first upload becomes the server's; a later upload of the same bytes was a
-- copy and goes (the file stays, it is the first one's); a later upload of other bytes stays with its
-- organization as a private package, whose clients are told that the version is ambiguous until one is deleted.
ALTER TABLE plugin_package ALTER COLUMN organization_id DROP NOT NULL;
CREATE TEMPORARY TABLE offline_rank ON COMMIT DROP AS
    SELECT id, sha256 = first_value(sha256) OVER w AS same_bytes, row_number() OVER w AS n
    FROM plugin_package WHERE kind = 'offline'
    WINDOW w AS (PARTITION BY plugin_id, version ORDER BY uploaded_at, id);
DELETE FROM plugin_package p USING offline_rank r WHERE p.id = r.id AND r.n > 1 AND r.same_bytes;
UPDATE plugin_package p SET kind = 'private' FROM offline_rank r WHERE p.id = r.id AND r.n > 1;
UPDATE plugin_package SET organization_id = NULL WHERE kind = 'offline';
ALTER TABLE plugin_package ADD CONSTRAINT plugin_package_owner CHECK ((kind = 'offline') = (organization_id IS NULL));
CREATE UNIQUE INDEX plugin_package_offline_version ON plugin_package (plugin_id, version) WHERE organization_id IS NULL;

-- The seeds' SQL fallback writes a plain password with password_encrypted = false. From that moment every
-- console session and bearer token issued before is refused: a new security stamp, which both are checked
-- against. Resetting a compromised account this way so locks the intruder out at once, not at the user's
-- next sign-in.
CREATE FUNCTION kit_plain_password_renews_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.security_stamp := gen_random_uuid();
    RETURN NEW;
END
$$;
CREATE TRIGGER user_account_plain_password
    BEFORE UPDATE OF password, password_encrypted ON public.user_account
    FOR EACH ROW WHEN (NOT NEW.password_encrypted)
    EXECUTE FUNCTION kit_plain_password_renews_stamp();
-- Rows a DBA reset this way before this migration get a new stamp now, for the same reason.
UPDATE public.user_account SET security_stamp = gen_random_uuid() WHERE NOT password_encrypted;
