"""The PostgreSQL fixture gives a working, writable database."""

import psycopg


def test_fresh_database_accepts_writes(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (2 + 1,)
