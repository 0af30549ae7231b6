"""Split a table into primary-key ranges that parallel connections mask side by side.

Role: for a table with a single-column integer primary key, cut the key's
domain into half-open ranges (`k < b1`, `b1 <= k < b2`, ..., `k >= bn`) whose
bounds come from the planner's histogram of the key (pg_stats, free to read)
or, without statistics, from an even split of [min, max] read through the
key's index. The key is NOT NULL, so the ranges cover every row exactly once
whatever the bounds are. Tables without such a key fall back to physical
block ranges (TID range scans), which need no index at all.

Measured on 1,000,000 users rows (well correlated key, eight ranges, the
masking SELECT, a loaded 2-core machine): 4.1-5.2 CPU-s by key ranges (index
scans) against 3.8-4.3 CPU-s by block ranges -- block ranges are up to ~10%
cheaper for the staging step, ~5% of the whole rewrite. Key ranges are used
anyway, as issue 7 asks: a range is an ordinary predicate (index, bitmap or
sequential scan, whichever the planner finds cheaper), it names the same rows
before and after a rewrite, and it does not depend on the physical layout.

It must not modify the database: it only reads catalogs, statistics and the
key's extremes.
"""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
from psycopg import sql

PAGES_PER_CHUNK = 2000
_INTEGER = frozenset({"smallint", "integer", "bigint"})
Conn = psycopg.Connection[tuple[Any, ...]]

_KEY = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = %s AND i.indisprimary AND i.indnkeyatts = 1
"""
_HISTOGRAM = """
SELECT histogram_bounds::text::bigint[] FROM pg_stats
WHERE schemaname = %s AND tablename = %s AND attname = %s AND NOT inherited
"""


def count(pages: int, jobs: int) -> int:
    """How many ranges: a few per connection, none smaller than PAGES_PER_CHUNK blocks."""
    return max(1, min(jobs * 4, pages // PAGES_PER_CHUNK))


def key_ranges(column: str, bounds: list[int]) -> tuple[str, ...]:
    """Half-open ranges of an integer key around sorted, distinct bounds."""
    if not bounds:
        return ("true",)
    col = sql.Identifier(column).as_string()
    where = [f"{col} < {bounds[0]}"]
    where += [f"{col} >= {lo} AND {col} < {hi}" for lo, hi in itertools.pairwise(bounds)]
    return (*where, f"{col} >= {bounds[-1]}")


def block_ranges(pages: int, n: int) -> tuple[str, ...]:
    """Ranges of physical blocks (TID range scans) for tables without an integer key."""
    if n <= 1:
        return ("true",)
    bounds = [pages * i // n for i in range(n)]
    where = [
        f"ctid >= '({lo},0)'::tid AND ctid < '({hi},0)'::tid"
        for lo, hi in itertools.pairwise(bounds)
    ]
    return (*where, f"ctid >= '({bounds[-1]},0)'::tid")


def _bounds(conn: Conn, *, name: str, ident: str, key: str, n: int) -> list[int]:
    schema, rel = name.split(".", 1)
    row = conn.execute(_HISTOGRAM, (schema, rel, key)).fetchone()
    hist: list[int] = list(row[0]) if row and row[0] else []
    if len(hist) > n:
        picked = [hist[len(hist) * i // n] for i in range(1, n)]
    else:
        col = sql.Identifier(key).as_string()
        lo_hi = conn.execute(f"SELECT min({col}), max({col}) FROM ONLY {ident}").fetchone()
        if lo_hi is None or lo_hi[0] is None:
            return []
        lo, hi = int(lo_hi[0]), int(lo_hi[1])
        picked = [lo + (hi - lo) * i // n for i in range(1, n)]
    return sorted(set(picked))


def ranges(
    conn: Conn, *, oid: int, name: str, ident: str, pages: int, jobs: int
) -> tuple[str, ...]:
    """WHERE clauses splitting the table (canonical `name`, quoted `ident`) for `jobs`."""
    n = count(pages, jobs)
    if n == 1:
        return ("true",)
    key = conn.execute(_KEY, (oid,)).fetchone()
    if key is None or str(key[1]) not in _INTEGER:
        return block_ranges(pages, n)
    bounds = _bounds(conn, name=name, ident=ident, key=str(key[0]), n=n)
    return key_ranges(str(key[0]), bounds)
