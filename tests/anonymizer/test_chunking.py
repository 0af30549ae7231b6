"""Primary-key ranges against a real PostgreSQL: every row in exactly one range."""

from __future__ import annotations

import psycopg
import pytest

from anonymizer import chunking, masking, rules

from .test_masking import KEYS, RULES, SCHEMA, Recorder


def _split(dsn: str, table: str, *, analyze: bool) -> tuple[tuple[str, ...], list[int]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if analyze:
            conn.execute(f"ANALYZE {table}")
        oid = conn.execute("SELECT %s::regclass::oid", (table,)).fetchone()
        assert oid is not None
        where = chunking.ranges(
            conn, oid=int(oid[0]), name=f"public.{table}", ident=table, pages=10**6, jobs=2
        )
        counts = [
            int(conn.execute(f"SELECT count(*) FROM {table} WHERE {w}").fetchone()[0])  # type: ignore[index]
            for w in where
        ]
    return where, counts


@pytest.mark.parametrize(
    "analyze", [pytest.param(True, id="histogram"), pytest.param(False, id="min-max")]
)
def test_key_ranges_cover_every_row_once(pg_dsn: str, analyze: bool) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g * g, 'x' FROM generate_series(1, 5000) g")  # skewed
    where, counts = _split(pg_dsn, "t", analyze=analyze)
    assert len(where) == 8
    assert all("id" in w and "ctid" not in w for w in where)
    assert sum(counts) == 5000
    if analyze:  # histogram bounds follow the data, so the ranges are balanced
        assert max(counts) < 2 * 5000 / 8


def test_tables_without_an_integer_key_fall_back_to_block_ranges(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE u (code text PRIMARY KEY)")
        conn.execute("INSERT INTO u SELECT 'c' || g FROM generate_series(1, 3000) g")
    where, counts = _split(pg_dsn, "u", analyze=True)
    assert all("ctid" in w for w in where)
    assert sum(counts) == 3000


def test_masking_split_in_key_ranges_gives_every_row(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SCHEMA)
    monkeypatch.setattr(chunking, "PAGES_PER_CHUNK", 1)
    events = Recorder()
    result = masking.run(
        pg_dsn,
        rules.parse(RULES),
        ["public.users", "public.orders"],
        keys=KEYS,
        progress=events,
        jobs=2,
    )
    assert result.rows == 9000
    assert len([e for e in events.events if e[0] == "advance"]) > 2
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT email) FROM users WHERE email NOT LIKE 'real%'"
        ).fetchone() == (3000, 3000)
