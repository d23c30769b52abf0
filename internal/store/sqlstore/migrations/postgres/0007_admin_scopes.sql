-- gatehouse:admin is split into narrower scopes. A client that used it for
-- automation (client_credentials alone) keeps every right under the new
-- names until an administrator narrows it; any other client loses it, since
-- an admin scope is never granted through a person's sign-in.
UPDATE clients SET scopes = REPLACE(scopes, '"gatehouse:admin"',
    '"gatehouse:users.read","gatehouse:users.write","gatehouse:users.import","gatehouse:users.groups","gatehouse:users.roles","gatehouse:clients","gatehouse:policies","gatehouse:audit.read"')
WHERE grant_types = '["client_credentials"]' AND NOT public;
UPDATE clients SET scopes = REPLACE(REPLACE(REPLACE(scopes, ',"gatehouse:admin"', ''), '"gatehouse:admin",', ''), '"gatehouse:admin"', '')
WHERE scopes LIKE '%"gatehouse:admin"%';
