-- L10 (first part): a deactivated machine keeps its row until its offline lease has expired, and
-- counts toward the user's machine limit until then: deactivating and re-activating cannot mint
-- more offline-valid leases than the limit.
ALTER TABLE machine_activation ADD COLUMN deactivated_at timestamptz NULL;
CREATE INDEX machine_activation_user ON machine_activation (organization_id, product_code, user_id);
