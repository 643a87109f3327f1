-- The id (not the key) of the secrets key file that encrypts the Data Protection key ring, so that a node
-- started with another file, or none, is recognised before it reads anything.
ALTER TABLE server_settings ADD COLUMN secrets_key_id text NULL;
