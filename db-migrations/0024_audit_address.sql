-- The audit log records where each change came from: the address of the request that made it. Behind a
-- reverse proxy listed in Kit:Proxy that is the address the proxy forwarded (X-Forwarded-For), not the
-- proxy's own; otherwise the connection's. An organization's Owner can then tell a change made from the
-- office from one made with a stolen session elsewhere. NULL for work the server did in the background
-- (an alert sent, say), which no request made, and for the entries written before this column existed.
ALTER TABLE audit_event ADD COLUMN address text NULL;
