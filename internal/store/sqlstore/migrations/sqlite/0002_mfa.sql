-- Registered security methods. The TOTP secret is sealed (AES-GCM) by the
-- application before it gets here.
CREATE TABLE mfa_methods (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    secret     BLOB,
    phone      TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    factor     TEXT NOT NULL DEFAULT '',
    is_default BOOLEAN NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL
);
CREATE INDEX mfa_methods_user ON mfa_methods (user_id, created_at);

-- What enrollment remembers between sign-ins: skips, the start of the
-- grace period, and when an admin last reset the methods.
CREATE TABLE mfa_state (
    user_id           TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    skips             INTEGER NOT NULL DEFAULT 0,
    first_prompted_at DATETIME,
    methods_reset_at  DATETIME
);
