-- Same outputs as the SQL expressions of anonymizer/strategies.py; see mayfly_mask.c.
CREATE FUNCTION mayfly_email(text, bigint, text[], text[], text[]) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION mayfly_phone(text, bigint, text, boolean) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION mayfly_name(text, bigint, text[], text[], integer, boolean) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION mayfly_address(text, bigint, text[], text[], text[], integer, boolean)
    RETURNS text AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
