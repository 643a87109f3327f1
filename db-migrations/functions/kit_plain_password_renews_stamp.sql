-- The documented SQL fallback writes a plain password with password_encrypted = false. From that moment every
-- console session and bearer token issued before is refused: a new security stamp, which both are checked
-- against, so resetting a compromised account this way locks the intruder out at once. The trigger that calls
-- it (user_account_plain_password) is schema, in 0023_server_settings.sql.
CREATE OR REPLACE FUNCTION kit_plain_password_renews_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.security_stamp := gen_random_uuid();
    RETURN NEW;
END
$$;
