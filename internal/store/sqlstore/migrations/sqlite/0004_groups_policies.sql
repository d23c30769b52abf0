-- Groups a person belongs to (e.g. staff, students-k2), as JSON like roles:
-- policies are chosen by group.
ALTER TABLE users ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';

-- Sign-in policies by population: the default (no groups, priority 0) and
-- per-group policies tried in priority order. Each edit bumps the version;
-- replicas poll the highest version to pick changes up within seconds.
CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    priority   INTEGER NOT NULL DEFAULT 0,
    groups     TEXT NOT NULL DEFAULT '[]',
    settings   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at DATETIME NOT NULL
);

-- Every version of every policy, for the record.
CREATE TABLE policy_versions (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    priority   INTEGER NOT NULL,
    groups     TEXT NOT NULL,
    settings   TEXT NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (name, version)
);
