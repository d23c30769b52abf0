-- After a rotation the previous client secret (SHA-256, like secret_hash)
-- keeps working until previous_secret_expires_at, so an app's
-- configuration can be updated without an outage.
ALTER TABLE clients ADD COLUMN previous_secret_hash BLOB;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at DATETIME;
