-- A new personal-data column: the masking rules must cover it.
ALTER TABLE public.users ADD COLUMN street text;

UPDATE users u
   SET street = a.street
  FROM legacy_addresses a
 WHERE a.user_id = u.id;
