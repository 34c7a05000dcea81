-- Time-boxed access: when an assignment ends by itself (unix ms; NULL:
-- never). The expiry job reads the partial index in time order.
ALTER TABLE inventory ADD COLUMN expires_at INTEGER;
CREATE INDEX inventory_by_expiry ON inventory (expires_at) WHERE expires_at IS NOT NULL;
