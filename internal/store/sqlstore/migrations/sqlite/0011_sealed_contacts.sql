-- The phone number or alternate email of a method is sealed (AES-GCM, bound
-- to the method's ID) by the application, with its HMAC beside it for
-- lookups and limits. This migration's Go step (sealContactColumns in
-- contacts.go) seals the existing rows, then drops the plaintext columns.
ALTER TABLE mfa_methods ADD COLUMN contact BLOB;
ALTER TABLE mfa_methods ADD COLUMN contact_mac TEXT NOT NULL DEFAULT '';
CREATE INDEX mfa_methods_contact_mac ON mfa_methods (contact_mac);
