-- One row every replica overwrites from /readyz: a database that answers
-- but cannot write (a full disk, a read-only failover) is not ready.
CREATE TABLE heartbeat (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    beat_at TIMESTAMPTZ NOT NULL
);

-- When a refresh token was rotated: a refresh with it that began before
-- then was concurrent with the rotation, not a replay.
ALTER TABLE refresh_tokens ADD COLUMN rotated_at TIMESTAMPTZ;
