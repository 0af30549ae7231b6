"""The e-mail, phone, name and address strategies through the mayfly_mask C extension.

Role: build, for those strategies, a call to the extension's C functions
(anonymizer/pgext) that yields exactly the text of the SQL expression in
`strategies` -- same keyed hash, same dictionary picks -- for ~10x less CPU
per value; and find out whether a database has the extension, installing it
into the masking schema when the server offers it. Every other strategy,
and every database without the extension, uses `strategies` unchanged.

It must not decide which tables or columns to mask.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from anonymizer import strategies
from anonymizer.rules import ColumnRule, Strategy
from anonymizer.schema import Column

EXTENSION = "mayfly_mask"
SCHEMA = "mayfly_masking"
STRATEGIES = frozenset({Strategy.EMAIL, Strategy.PHONE, Strategy.NAME, Strategy.ADDRESS})
_PARTS = {"first": 0, "last": 1, "street": 0, "city": 1, "full": 2}


def install(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
    """Make sure the extension is in the database (autocommit `conn`); False if unavailable."""
    try:
        available = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = %s)", (EXTENSION,)
        ).fetchone()
        if not (available and available[0]):
            return False
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION} SCHEMA {SCHEMA}")
        where = conn.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = %s",
            (EXTENSION,),
        ).fetchone()
    except psycopg.Error:  # e.g. not allowed to create extensions: the SQL expressions do
        return False
    return where is not None and where[0] == SCHEMA  # installed elsewhere by hand: not ours


def _dict(name: str, *, lower: bool = False) -> str:
    return strategies.dictionary(name, lower=lower, kind="text")[0]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def expression(rule: ColumnRule, column: Column, *, keys: strategies.Keys) -> str:
    """Like `strategies.expression`, calling the C functions where there is one."""
    if rule.strategy not in STRATEGIES:
        return strategies.expression(rule, column, keys=keys)
    strategies.check(rule, column)
    s, opts = rule.strategy, dict(rule.options)
    col = sql.Identifier(column.name).as_string()
    head = f"({col})::text, {keys.seed(s.value)}"
    unique = _bool(column.unique)
    if s is Strategy.EMAIL:
        domain = str(opts["domain"] or "")
        domains = (
            f"ARRAY[{sql.Literal(domain).as_string()}]"
            if domain
            else ("ARRAY[" + ",".join(sql.Literal(d).as_string() for d in strategies.DOMAINS) + "]")
        )
        first, last = _dict("first_names", lower=True), _dict("last_names", lower=True)
        masked = f"{SCHEMA}.mayfly_email({head}, {first}, {last}, {domains})::{column.type}"
        return f"CASE WHEN {strategies.email_kept(col, domain)} THEN {col} ELSE {masked} END"
    if s is Strategy.PHONE:
        prefix = sql.Literal(str(opts["prefix"])).as_string()
        return f"{SCHEMA}.mayfly_phone({head}, {prefix}, {unique})::{column.type}"
    part = _PARTS[str(opts["part"])]
    if s is Strategy.NAME:
        names = f"{_dict('first_names')}, {_dict('last_names')}"
        return f"{SCHEMA}.mayfly_name({head}, {names}, {part}, {unique})::{column.type}"
    places = f"{_dict('streets')}, {_dict('street_suffixes')}, {_dict('cities')}"
    return f"{SCHEMA}.mayfly_address({head}, {places}, {part}, {unique})::{column.type}"
