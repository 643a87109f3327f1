-- A5: deleting the licenses returns the server to the un-licensed state and keeps everything else.
-- The newest issue date ever activated stays with the installation, so that neither an upload over
-- the active license nor one after a deletion can go back to an older license.
ALTER TABLE installation ADD COLUMN newest_license_issued_at timestamptz NULL;
UPDATE installation SET newest_license_issued_at = (SELECT issued_at FROM server_license WHERE id = 1);

-- A6: the expiry warnings mailed to the server admins, one per item, end date and step (30, 7, 1 days).
-- A node claims a row before it sends, so several nodes send each warning once.
CREATE TABLE expiry_notice (
    subject    text        NOT NULL, -- 'license' or a product code
    expires_at timestamptz NOT NULL,
    days       integer     NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, expires_at, days)
);
