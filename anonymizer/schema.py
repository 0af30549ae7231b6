"""Read a table's shape and everything hanging off it from PostgreSQL's catalogs.

Role: columns with their types and uniqueness, indexes and the constraints
they back, foreign keys into and out of a set of tables, triggers and
row-level-security flags -- each with the exact DDL to drop and re-create
it -- so that a masking run can rewrite a table and put everything back.

It must not modify anything: it only runs catalog queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


class SchemaError(RuntimeError):
    """The table is missing or has a shape a masking run cannot rewrite safely."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # format_type(), e.g. "character varying(80)"
    category: str  # pg_type.typcategory: S string, N numeric, D date/time, ...
    not_null: bool
    generated: bool
    identity_always: bool
    unique: bool


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    drop: str
    create: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    oid: int
    name: str  # canonical schema.table
    ident: str  # quoted, schema-qualified SQL identifier
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...]
    triggers: tuple[tuple[str, str], ...]  # (name, tgenabled)
    force_rls: bool
    pages: int

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    table_ident: str
    drop: str
    create: tuple[str, ...]


_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, a.attnotnull,
       a.attgenerated <> '', a.attidentity = 'a',
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique
               AND a.attnum = ANY (i.indkey))
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
_INDEXES = """
SELECT ic.relname, format('%%I.%%I', n.nspname, ic.relname), pg_get_indexdef(i.indexrelid),
       con.conname, pg_get_constraintdef(con.oid), i.indisclustered, i.indisreplident,
       obj_description(i.indexrelid, 'pg_class'), obj_description(con.oid, 'pg_constraint')
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
     AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = %s ORDER BY ic.relname
"""
_FKEYS = """
SELECT c.conname, format('%%I.%%I', n.nspname, r.relname), pg_get_constraintdef(c.oid),
       obj_description(c.oid, 'pg_constraint')
FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0 AND (c.conrelid = ANY (%s) OR c.confrelid = ANY (%s))
ORDER BY 2, 1
"""


def _q(name: str) -> str:
    return sql.Identifier(name).as_string()


def _comment(kind: str, target: str, *, text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    return (f"COMMENT ON {kind} {target} IS {sql.Literal(text).as_string()}",)


def table(conn: psycopg.Connection[tuple[Any, ...]], name: str) -> Table:
    """Describe one table (canonical `schema.table` name)."""
    schema, rel = name.split(".", 1)
    row = conn.execute(
        "SELECT c.oid, c.relkind, c.relforcerowsecurity, c.relpages"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (schema, rel),
    ).fetchone()
    if row is None:
        raise SchemaError(f"table {name} does not exist in this database; check the name")
    oid, relkind, force_rls, pages = row
    if relkind != "r":
        kind = "a partitioned table (mask its partitions)" if relkind == "p" else "not a table"
        raise SchemaError(f"{name} is {kind}")
    ident = f"{_q(schema)}.{_q(rel)}"
    rules = conn.execute(
        "SELECT count(*) FROM pg_rewrite WHERE ev_class = %s AND ev_type = '3'", (oid,)
    ).fetchone()
    if rules and rules[0]:
        raise SchemaError(f"{name} has an ON INSERT rule; drop it on the clone before masking")
    columns = tuple(Column(*r) for r in conn.execute(_COLUMNS, (oid,)).fetchall())
    indexes = []
    for r in conn.execute(_INDEXES, (oid,)).fetchall():
        relname, qualified, indexdef, conname, condef, clustered, replident, icomment, ccomment = r
        if conname:
            drop = f"ALTER TABLE {ident} DROP CONSTRAINT {_q(str(conname))}"
            create: tuple[str, ...] = (
                f"ALTER TABLE {ident} ADD CONSTRAINT {_q(str(conname))} {condef}",
            )
            create += _comment("CONSTRAINT", f"{_q(str(conname))} ON {ident}", text=ccomment)
        else:
            drop = f"DROP INDEX {qualified}"
            create = (str(indexdef),)
        create += _comment("INDEX", str(qualified), text=icomment)
        if clustered:
            create += (f"ALTER TABLE {ident} CLUSTER ON {_q(str(relname))}",)
        if replident:
            create += (f"ALTER TABLE {ident} REPLICA IDENTITY USING INDEX {_q(str(relname))}",)
        indexes.append(Index(str(relname), drop, create))
    triggers = tuple(
        (str(n), str(e))
        for n, e in conn.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal",
            (oid,),
        ).fetchall()
    )
    return Table(
        int(oid), name, ident, columns, tuple(indexes), triggers, bool(force_rls), int(pages)
    )


def foreign_keys(conn: psycopg.Connection[tuple[Any, ...]], oids: list[int]) -> list[ForeignKey]:
    """Every foreign key from or to one of the tables."""
    keys = []
    for name, table_ident, definition, comment in conn.execute(_FKEYS, (oids, oids)).fetchall():
        target = f"{_q(str(name))} ON {table_ident}"
        keys.append(
            ForeignKey(
                str(name),
                str(table_ident),
                f"ALTER TABLE {table_ident} DROP CONSTRAINT {_q(str(name))}",
                (
                    f"ALTER TABLE {table_ident} ADD CONSTRAINT {_q(str(name))} {definition}",
                    *_comment("CONSTRAINT", target, text=comment),
                ),
            )
        )
    return keys


def existing_tables(conn: psycopg.Connection[tuple[Any, ...]]) -> set[str]:
    """Canonical names of every ordinary table outside the system schemas."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
        " AND n.nspname NOT IN ('pg_catalog', 'information_schema',"
        " 'mayfly_stage', 'mayfly_masking')"
        " AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'"
    ).fetchall()
    return {str(r[0]) for r in rows}
