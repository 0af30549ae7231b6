"""Rewrite a table in one pass with ALTER TABLE ... ALTER COLUMN ... TYPE ... USING.

Role: decide whether a table can be masked by PostgreSQL's own table rewrite
(the masked columns re-typed to their own type through the masking
expression), and build that statement. The rewrite writes a new heap (and
TOAST) file once -- WAL-free under wal_level=minimal, since the file is new
in this transaction -- rebuilds every index, unlinks the old files at commit
and keeps the table's OID, so grants, comments, sequences, policies, triggers
and statistics targets stay attached; indexes and constraints on the masked
columns are re-created by PostgreSQL under their own names and comments.
Against the staged rewrite (parallel key ranges into a stage, truncate,
insert) it saves the second heap write and the stage, and needs one process.

PostgreSQL refuses the statement for some shapes (a view, rule, policy,
trigger or generated column using a masked column; inheritance; typed
tables): `eligible` reads the catalogs for those and the caller takes the
staged path instead. A foreign key on a masked column must be dropped first
(the caller drops all keys between the tables it masks and re-creates them).

It must not run the statement or decide the masking expressions.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.Connection[tuple[Any, ...]]

# Objects that make ALTER COLUMN ... TYPE fail when they use the column.
_BLOCKERS = """
SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = %(oid)s OR inhparent = %(oid)s)
    OR (SELECT reloftype <> 0 FROM pg_class WHERE oid = %(oid)s)
    OR EXISTS (
        SELECT 1 FROM pg_depend d JOIN pg_attribute a
          ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %(oid)s
          AND a.attname = ANY (%(cols)s)
          AND (d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass,
                             'pg_trigger'::regclass, 'pg_attrdef'::regclass)
               OR (d.classid = 'pg_class'::regclass AND d.objid = %(oid)s
                   AND d.objsubid <> d.refobjsubid)))
"""
_COLLATIONS = """
SELECT a.attname, format('%%I.%%I', n.nspname, c.collname)
FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE a.attrelid = %s AND a.attname = ANY (%s)
"""


def eligible(conn: Conn, oid: int, columns: list[str]) -> bool:
    """Whether PostgreSQL can re-type these columns of the table in place."""
    row = conn.execute(_BLOCKERS, {"oid": oid, "cols": columns}).fetchone()
    return not (row and row[0])


def statement(conn: Conn, *, oid: int, ident: str, rewrites: list[tuple[str, str, str]]) -> str:
    """The ALTER TABLE rewriting `rewrites` (column, type, masking expression) in one pass.

    Each column keeps its collation (ALTER ... TYPE would otherwise reset it to
    the type's default). With nothing to mask (a forced rewrite), the first
    column is re-typed through a volatile no-op so that PostgreSQL still rewrites.
    """
    names = [name for name, _, _ in rewrites]
    collation = {str(n): str(c) for n, c in conn.execute(_COLLATIONS, (oid, names)).fetchall()}
    parts = []
    for name, type_, expr in rewrites:
        collate = f" COLLATE {collation[name]}" if name in collation else ""
        col = sql.Identifier(name).as_string()
        parts.append(f"ALTER COLUMN {col} TYPE {type_}{collate} USING {expr}")
    return f"ALTER TABLE ONLY {ident} " + ", ".join(parts)


def noop(column: str) -> str:
    """An expression equal to the column that PostgreSQL cannot prove equal (forces a rewrite)."""
    col = sql.Identifier(column).as_string()
    return f"CASE WHEN random() >= 0 THEN {col} ELSE {col} END"
