-- Users: username is unique and stored lower case by the identity package.
-- Substring search scans the table (fine at district scale); the unique
-- index on username serves ordering and paging.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    email                TEXT NOT NULL DEFAULT '',
    email_verified       BOOLEAN NOT NULL DEFAULT FALSE,
    display_name         TEXT NOT NULL DEFAULT '',
    password_hash        TEXT NOT NULL DEFAULT '',
    roles                TEXT NOT NULL DEFAULT '[]',
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

-- String lists are JSON text so both dialects share code.
CREATE TABLE clients (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL DEFAULT '',
    description                TEXT NOT NULL DEFAULT '',
    secret_hash                BYTEA,
    public                     BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uris              TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris  TEXT NOT NULL DEFAULT '[]',
    grant_types                TEXT NOT NULL DEFAULT '[]',
    response_types             TEXT NOT NULL DEFAULT '[]',
    scopes                     TEXT NOT NULL DEFAULT '[]',
    token_endpoint_auth_method TEXT NOT NULL DEFAULT '',
    jwks_uri                   TEXT NOT NULL DEFAULT '',
    jwks                       TEXT NOT NULL DEFAULT '',
    require_pkce               BOOLEAN NOT NULL DEFAULT FALSE,
    require_consent            BOOLEAN NOT NULL DEFAULT FALSE,
    required_acr               TEXT NOT NULL DEFAULT '',
    disabled                   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

CREATE TABLE signing_keys (
    id         TEXT PRIMARY KEY,
    algorithm  TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);

-- No foreign keys to users or clients: grants are revoked explicitly
-- (RevokeSubject, RevokeGrant) and expire on their own.
CREATE TABLE refresh_tokens (
    signature        TEXT PRIMARY KEY,
    request_id       TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    access_signature TEXT NOT NULL DEFAULT '',
    active           BOOLEAN NOT NULL,
    requested_at     TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    data             BYTEA NOT NULL
);
CREATE INDEX refresh_tokens_request_id_idx ON refresh_tokens (request_id);
CREATE INDEX refresh_tokens_subject_idx ON refresh_tokens (subject);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    "time"     TIMESTAMPTZ NOT NULL,
    type       TEXT NOT NULL,
    outcome    TEXT NOT NULL DEFAULT '',
    actor_id   TEXT NOT NULL DEFAULT '',
    subject_id TEXT NOT NULL DEFAULT '',
    client_id  TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}'
);
-- Listings are newest first, optionally narrowed by type or subject.
CREATE INDEX audit_events_time_idx ON audit_events ("time");
CREATE INDEX audit_events_type_time_idx ON audit_events (type, "time");
CREATE INDEX audit_events_subject_id_time_idx ON audit_events (subject_id, "time");
