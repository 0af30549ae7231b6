"""The one-pass ALTER TABLE rewrite: when it is chosen, what it keeps, and its fallback."""

from __future__ import annotations

import psycopg
import pytest

from anonymizer import inplace, masking, planning, rules

from .test_masking import KEYS, RULES, SCHEMA, Recorder

TABLE = """
CREATE TABLE contacts (
    id bigint PRIMARY KEY,
    email text COLLATE "C" NOT NULL UNIQUE,
    name varchar(40),
    kept text
);
COMMENT ON INDEX contacts_email_key IS 'login index';
COMMENT ON CONSTRAINT contacts_email_key ON contacts IS 'one login each';
CREATE INDEX contacts_name_idx ON contacts (name) WHERE name IS NOT NULL;
ALTER TABLE contacts ALTER COLUMN email SET STATISTICS 500;
INSERT INTO contacts SELECT g, 'c' || g || '@corp.example.org', 'Name' || g, 'k' || g
FROM generate_series(1, 500) g;
"""
CONTACT_RULES = {
    "tables": {
        "contacts": {
            "personal": True,
            "columns": {
                "id": "keep",
                "email": "email",
                "name": {"strategy": "name", "part": "full"},
                "kept": "keep",
            },
        }
    }
}
CATALOG = """
SELECT c.oid, a.attcollation::regcollation::text, a.attstattarget,
       obj_description('contacts_email_key'::regclass, 'pg_class'),
       (SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint
        WHERE conname = 'contacts_email_key'),
       ARRAY(SELECT indexdef FROM pg_indexes WHERE tablename = 'contacts' ORDER BY 1)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'email'
WHERE c.relname = 'contacts'
"""


def test_in_place_rewrite_keeps_oid_collation_indexes_and_comments(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(TABLE)
        before = conn.execute(CATALOG).fetchone()
        plans, _ = planning.plan(
            conn, rules.parse(CONTACT_RULES), ["public.contacts"], keys=KEYS, jobs=2
        )
        assert [p.in_place for p in plans] == [True]
    result = masking.run(
        pg_dsn, rules.parse(CONTACT_RULES), ["public.contacts"], keys=KEYS, progress=Recorder()
    )
    assert result.rows == 500
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(CATALOG).fetchone() == before
        leaked = conn.execute(
            "SELECT count(*) FROM contacts WHERE email LIKE '%corp%' OR name LIKE 'Name%'"
            " OR kept NOT LIKE 'k%'"
        ).fetchone()
        assert leaked == (0,)


def test_tables_postgres_cannot_retype_are_staged(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(TABLE)
        conn.execute("CREATE VIEW logins AS SELECT email FROM contacts")
        plans, _ = planning.plan(
            conn, rules.parse(CONTACT_RULES), ["public.contacts"], keys=KEYS, jobs=2
        )
        assert [p.in_place for p in plans] == [False]


def test_a_refused_alter_falls_back_to_staging_with_the_same_rows(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = pg_dsn
    with psycopg.connect(shop) as conn:
        conn.execute(SCHEMA)
        conn.execute("ANALYZE")
    # users has a view on its e-mail: ALTER ... TYPE is refused if tried anyway.
    monkeypatch.setattr(inplace, "eligible", lambda conn, oid, columns: True)
    masking.run(
        shop, rules.parse(RULES), ["public.users", "public.orders"], keys=KEYS, progress=Recorder()
    )
    with psycopg.connect(shop) as conn:
        assert conn.execute(
            "SELECT count(*) FROM users WHERE email LIKE 'real.person%'"
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM big_orders").fetchone() == (6000,)
        mismatched = conn.execute(
            "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id"
            " WHERE o.email <> u.email"
        ).fetchone()
        assert mismatched == (0,)


@pytest.mark.parametrize("indexed", [True, False], ids=["counted-by-index-build", "counted"])
def test_row_count_of_an_in_place_rewrite_is_exact(pg_dsn: str, indexed: bool) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(TABLE)
        conn.execute("DELETE FROM contacts WHERE id % 7 = 0")  # dead tuples, stale reltuples
        if not indexed:
            conn.execute("DROP INDEX contacts_name_idx")
            conn.execute("ALTER TABLE contacts DROP CONSTRAINT contacts_email_key")
            conn.execute("ALTER TABLE contacts DROP CONSTRAINT contacts_pkey")
    result = masking.run(
        pg_dsn, rules.parse(CONTACT_RULES), ["public.contacts"], keys=KEYS, progress=Recorder()
    )
    assert result.rows == 500 - 500 // 7
