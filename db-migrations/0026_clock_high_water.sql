-- The latest time any node's clock has shown, so that a clock set back (to keep an expired license
-- working) is recognised on every node. Nodes move it forward only: greatest(mark, their now).
ALTER TABLE server_settings ADD COLUMN clock_high_water timestamptz NULL;
