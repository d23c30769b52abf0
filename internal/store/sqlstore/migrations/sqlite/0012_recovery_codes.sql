-- Recovery codes: only their keyed hashes (HMAC-SHA256, computed by the
-- application) are kept. A used code stays, marked, until the set is
-- replaced or voided, so a second use can be told apart from a typo.
CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    used_at    DATETIME,
    PRIMARY KEY (user_id, hash)
);
