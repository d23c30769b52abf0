-- The algorithm an app's ID tokens are signed with (OpenID Connect
-- Registration's id_token_signed_response_alg); empty: the server's default.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT '';
