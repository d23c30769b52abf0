-- Whether a client (an API checking other apps' tokens) may introspect
-- tokens issued to other clients; every other client sees only its own.
ALTER TABLE clients ADD COLUMN may_introspect BOOLEAN NOT NULL DEFAULT 0;
