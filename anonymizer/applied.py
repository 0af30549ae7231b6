"""The rules a database was masked with, recorded in the database itself.

Role: keep one row per table in `mayfly_masking.applied` -- the table's rule
as JSON (personal flag, each column's strategy and options) and its SHA-256
digest -- written by the masking run in the same transaction as the rewrite,
so the record and the data can never disagree. A later run compares the
current rules file with the record and re-masks exactly the columns whose
rule changed (`changes`, `restrict`), with no copy of the old rules file.

It must not decide which tables a pull request touches, and it stores rules
only, never values from the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg

from anonymizer import schema
from anonymizer.rules import ColumnRule, Rules, Strategy, TableRule

SCHEMA = "mayfly_masking"
TABLE = f"{SCHEMA}.applied"
Conn = psycopg.Connection[tuple[Any, ...]]
_KEEP = ColumnRule(Strategy.KEEP)

_CREATE = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {TABLE} (table_name text PRIMARY KEY,"
    " digest text NOT NULL, rule jsonb NOT NULL, masked_at timestamptz NOT NULL)",
    f"COMMENT ON TABLE {TABLE} IS 'Written by mayfly anonymize: the masking rule each"
    " table was last masked with; a later run re-masks the columns whose rule changed'",
)
_UPSERT = (
    f"INSERT INTO {TABLE} (table_name, digest, rule, masked_at) VALUES (%s, %s, %s, now())"
    " ON CONFLICT (table_name) DO UPDATE"
    " SET digest = excluded.digest, rule = excluded.rule, masked_at = excluded.masked_at"
)


def column_doc(rule: ColumnRule) -> dict[str, Any]:
    """A column rule as JSON: its strategy and every option (defaults included)."""
    return {"strategy": rule.strategy.value, **dict(rule.options)}


def table_doc(rule: TableRule) -> dict[str, Any]:
    """A table rule as JSON, the form stored in the record."""
    return {
        "personal": rule.personal,
        "columns": {name: column_doc(r) for name, r in sorted(rule.columns)},
    }


def digest(doc: Mapping[str, Any]) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def recorded(conn: Conn) -> dict[str, dict[str, Any]] | None:
    """The recorded rule of each table, or None when no run has recorded anything here."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).fetchone()
    if not row or not row[0]:
        return None
    return {str(name): doc for name, doc in conn.execute(f"SELECT table_name, rule FROM {TABLE}")}


def changes(before: Mapping[str, Mapping[str, Any]], rules: Rules) -> dict[str, frozenset[str]]:
    """Tables whose rule differs from the record, each with the columns to re-mask.

    A column is re-masked when its rule is not `keep` and differs from the recorded
    one; a table never recorded has all its non-`keep` columns re-masked. A table
    whose rule changed with nothing to re-mask (say, email -> keep: the values are
    already masked) maps to an empty set, so that its record is brought up to date.
    """
    found: dict[str, frozenset[str]] = {}
    for name, rule in rules.tables:
        old = before.get(name)
        if old is not None and digest(old) == digest(table_doc(rule)):
            continue
        old_columns: Mapping[str, Any] = (old or {}).get("columns", {})
        found[name] = frozenset(
            column
            for column, r in rule.columns
            if rule.personal
            and r.strategy is not Strategy.KEEP
            and old_columns.get(column) != column_doc(r)
        )
    return found


def pending(conn: Conn, rules: Rules) -> dict[str, frozenset[str]] | None:
    """`changes` against this database's record, for tables that exist; None: no record."""
    before = recorded(conn)
    if before is None:
        return None
    existing = schema.existing_tables(conn)
    return {t: cols for t, cols in changes(before, rules).items() if t in existing}


def restrict(rules: Rules, only: Mapping[str, frozenset[str]]) -> Rules:
    """The rules with every column of the `only` tables outside its set turned into keep."""
    tables = [
        (
            name,
            TableRule(
                rule.name,
                rule.personal,
                tuple((c, r if c in only[name] else _KEEP) for c, r in rule.columns),
            )
            if name in only
            else rule,
        )
        for name, rule in rules.tables
    ]
    return Rules(rules.database, rules.key_env, tuple(tables))


def record(conn: Conn, rules: Rules, names: Iterable[str]) -> None:
    """Record the current rule of each table (inside the masking transaction)."""
    for statement in _CREATE:
        conn.execute(statement)
    for name in names:
        rule = rules.table(name)
        if rule is not None:
            doc = table_doc(rule)
            conn.execute(_UPSERT, (name, digest(doc), json.dumps(doc, default=str)))
