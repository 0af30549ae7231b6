"""The C functions of the mayfly_mask extension give exactly the SQL expressions' values."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from anonymizer import masking, native, rules, strategies
from anonymizer.schema import Column

from .test_masking import KEYS, RULES, SCHEMA, Recorder

VALUES = [
    "real.person1@corp.example.org",
    "x",
    "",
    "Zoë Ångström-Łukasiewicz",
    "a" * 3000,
    "1a2b.anna.smith@example.org",  # already masked: kept
    "someone@example.com",
    None,
]
CASES = {
    "email": "email",
    "email_fixed": {"strategy": "email", "domain": "test.invalid"},
    "phone": "phone",
    "phone_prefix": {"strategy": "phone", "prefix": "+1 555 "},
    "first": {"strategy": "name", "part": "first"},
    "last": {"strategy": "name", "part": "last"},
    "full": {"strategy": "name", "part": "full"},
    "street": {"strategy": "address", "part": "street"},
    "city": {"strategy": "address", "part": "city"},
    "address": {"strategy": "address", "part": "full"},
}


@pytest.fixture
def c_functions(pg_dsn: str, pgext_installed: bool) -> str:
    assert pgext_installed
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert native.install(conn), "mayfly_mask is not installed: run make pgext"
    return pg_dsn


@pytest.mark.parametrize("unique", [False, True], ids=["plain", "unique"])
@pytest.mark.parametrize("type_", ["text", "character varying(12)"])
def test_c_functions_equal_the_sql_expressions(c_functions: str, type_: str, unique: bool) -> None:
    table = rules.parse({"tables": {"t": {"personal": True, "columns": CASES}}}).table("public.t")
    assert table is not None
    column = Column("v", type_, "S", False, False, False, unique)
    with psycopg.connect(c_functions) as conn:
        conn.execute(f"CREATE TEMP TABLE t (v {type_})")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO t SELECT CAST(%s::text AS {type_})", [(v,) for v in VALUES]
            )
        for case in CASES:
            rule = table.rule(case)
            assert rule is not None
            by_sql = strategies.expression(rule, column, keys=KEYS)
            by_c = native.expression(rule, column, keys=KEYS)
            assert "mayfly_masking." in by_c
            assert "mayfly_masking." not in by_sql
            rows: list[Any] = conn.execute(f"SELECT v, {by_sql}, {by_c} FROM t").fetchall()
            assert all(r[1] == r[2] for r in rows), (case, [r for r in rows if r[1] != r[2]])
            assert sum(r[0] is not None and r[1] != r[0] for r in rows) >= 4, case


def test_a_run_with_the_c_functions_equals_one_without(c_functions: str, pg_dsn: str) -> None:
    dumps = []
    for use_c in (True, False):
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(
                "DROP VIEW IF EXISTS big_orders; DROP TABLE IF EXISTS orders, users;"
                " DROP FUNCTION IF EXISTS touch()"
            )
            conn.execute(SCHEMA)
        masking.run(
            pg_dsn,
            rules.parse(RULES),
            ["public.users", "public.orders"],
            keys=KEYS,
            progress=Recorder(),
            native_functions=use_c,
        )
        with psycopg.connect(pg_dsn) as conn:
            dumps.append(
                conn.execute(
                    "SELECT u.id, u.first_name, u.last_name, u.email, u.phone, u.street, o.email"
                    " FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.id"
                ).fetchall()
            )
    assert dumps[0] == dumps[1]


def test_without_the_extension_in_our_schema_the_sql_expressions_are_used(
    pg_dsn: str, pgext_installed: bool
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA elsewhere")
        conn.execute(f"CREATE EXTENSION {native.EXTENSION} SCHEMA elsewhere")
        assert not native.install(conn)
