-- U1 (issue 10): besides 5 failures in 15 minutes per (address, email), at most 100 failures an hour per
-- email, whatever the address. A successful sign-in no longer deletes the failures of its (address, email):
-- it marks them cleared, so that they stop counting for that pair but still count toward the hourly cap.
ALTER TABLE sign_in_failure ADD COLUMN cleared boolean NOT NULL DEFAULT false;

-- Rows older than the longest window are deleted as new attempts come in.
CREATE INDEX sign_in_failure_by_time ON sign_in_failure (failed_at);
