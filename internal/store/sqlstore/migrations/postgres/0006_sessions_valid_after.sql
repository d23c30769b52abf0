-- Sessions and access tokens a person got before this moment are over: set
-- by sign-out everywhere, a password change or reset and a method reset, and
-- checked by browser sessions, console sessions, userinfo and introspection.
ALTER TABLE users ADD COLUMN sessions_valid_after TIMESTAMPTZ;
