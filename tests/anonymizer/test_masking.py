"""Masking runs against a real PostgreSQL: correctness, joins, uniqueness, disk, atomicity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from anonymizer import masking, rules, strategies

KEYS = strategies.Keys.from_secret(b"test-secret-0123456789")

SCHEMA = """
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email varchar(120) NOT NULL UNIQUE,
    phone text,
    street text,
    born date,
    salary numeric(10, 2),
    prefs jsonb,
    note text
);
COMMENT ON TABLE users IS 'people';
COMMENT ON COLUMN users.email IS 'login';
CREATE INDEX users_name_idx ON users (last_name, first_name);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email varchar(120) NOT NULL,
    total numeric(10, 2) NOT NULL
);
CREATE VIEW big_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id;
DO $$ BEGIN CREATE ROLE mayfly_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT SELECT ON users TO mayfly_reader;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'trigger must not fire during masking'; END $$;
INSERT INTO users (first_name, last_name, email, phone, street, born, salary, prefs, note)
SELECT 'Real' || g, 'Person' || g, 'real.person' || g || '@corp.example.org',
       '+44 20 7946 ' || lpad(g::text, 4, '0'), g || ' Secret Lane', date '1980-01-01' + g,
       1000 + g, jsonb_build_object('g', g), 'n' || g
FROM generate_series(1, 3000) g;
INSERT INTO orders (user_id, email, total)
SELECT u.id, u.email, 10 FROM users u CROSS JOIN generate_series(1, 2);
CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch();
"""

RULES = {
    "tables": {
        "users": {
            "personal": True,
            "columns": {
                "id": "keep",
                "first_name": {"strategy": "name", "part": "first"},
                "last_name": {"strategy": "name", "part": "last"},
                "email": "email",
                "phone": "phone",
                "street": {"strategy": "address", "part": "street"},
                "born": {"strategy": "date_noise", "days": 5},
                "salary": {"strategy": "noise", "ratio": 0.1},
                "prefs": "null",
                "note": {"strategy": "partial", "keep_first": 1},
            },
        },
        "orders": {
            "personal": True,
            "columns": {"id": "keep", "user_id": "keep", "email": "email", "total": "keep"},
        },
    }
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []

    def start(self, table: str, rows: int | None) -> None:
        self.events.append(("start", table, rows))

    def advance(self, table: str, rows: int) -> None:
        self.events.append(("advance", table, rows))

    def phase(self, table: str, text: str) -> None:
        self.events.append(("phase", table, text))


@pytest.fixture
def shop(pg_dsn: str) -> str:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SCHEMA)
        conn.execute("ANALYZE")
    return pg_dsn


def _run(dsn: str, data: dict[str, object] = RULES, *, jobs: int = 2) -> masking.Result:
    return masking.run(
        dsn,
        rules.parse(data),
        ["public.users", "public.orders"],
        keys=KEYS,
        jobs=jobs,
        progress=Recorder(),
    )


def test_values_are_masked_and_everything_else_kept(shop: str) -> None:
    result = _run(shop)
    assert [(t.name, t.rows) for t in result.tables] == [
        ("public.users", 3000),
        ("public.orders", 6000),
    ]
    with psycopg.connect(shop) as conn:
        leaked = conn.execute(
            "SELECT count(*) FROM users WHERE email LIKE 'real.person%' OR first_name LIKE 'Real%'"
            " OR street LIKE '%Secret%' OR phone LIKE '+44%' OR prefs IS NOT NULL"
        ).fetchone()
        assert leaked == (0,)
        row = conn.execute("SELECT email, note, born, salary FROM users WHERE id = 7").fetchone()
        assert row is not None
        assert row[0].endswith(("@example.com", "@example.org", "@example.net"))
        assert row[1] == "n*"
        assert abs((row[2] - __import__("datetime").date(1980, 1, 8)).days) <= 5
        assert 1007 * 0.9 - 0.01 <= float(row[3]) <= 1007 * 1.1 + 0.01
        # catalogs survive: comments, grants, view, trigger, indexes, FK
        assert conn.execute("SELECT obj_description('users'::regclass)").fetchone() == ("people",)
        assert conn.execute("SELECT col_description('users'::regclass, 4)").fetchone() == ("login",)
        assert conn.execute(
            "SELECT has_table_privilege('mayfly_reader', 'users', 'SELECT')"
        ).fetchone() == (True,)
        indexes = {
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'users'")
        }
        assert indexes == {"users_pkey", "users_email_key", "users_name_idx"}
        fks = conn.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f'"
        ).fetchall()
        assert fks == [("orders_user_id_fkey", True)]
        assert conn.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'users_touch'"
        ).fetchone() == ("O",)
        assert conn.execute("SELECT count(*) FROM big_orders").fetchone() == (6000,)
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'mayfly_stage'"
        ).fetchone() == (0,)


def test_joins_on_masked_values_still_match_and_unique_stays_unique(shop: str) -> None:
    _run(shop)
    with psycopg.connect(shop) as conn:
        mismatched = conn.execute(
            "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id"
            " WHERE o.email <> u.email"
        ).fetchone()
        assert mismatched == (0,)
        assert conn.execute("SELECT count(DISTINCT email) FROM users").fetchone() == (3000,)


def test_same_key_same_pseudonym_in_another_database(shop: str, postgres_server: object) -> None:
    _run(shop)
    with psycopg.connect(shop) as conn:
        first = conn.execute("SELECT email FROM users WHERE id = 1").fetchone()
        conn.execute("CREATE TABLE again (email text)")
        conn.execute("INSERT INTO again VALUES ('real.person1@corp.example.org')")
        conn.commit()
    data = {"tables": {"again": {"personal": True, "columns": {"email": "email"}}}}
    masking.run(shop, rules.parse(data), ["public.again"], keys=KEYS, progress=Recorder())
    with psycopg.connect(shop) as conn:
        assert conn.execute("SELECT email FROM again").fetchone() == first


def _datafile_bytes(conn: psycopg.Connection[tuple[Any, ...]], table: str) -> bytes:
    conn.execute("CHECKPOINT")
    datadir = conn.execute("SHOW data_directory").fetchone()
    blob = b""
    for (rel,) in conn.execute(
        "SELECT pg_relation_filepath(oid) FROM pg_class WHERE oid = %s::regclass"
        " OR oid = (SELECT reltoastrelid FROM pg_class WHERE oid = %s::regclass)"
        " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass)",
        (table, table, table),
    ):
        if rel is None:
            continue
        base = Path(str(datadir[0])) / str(rel)
        for segment in [base, *sorted(base.parent.glob(base.name + ".*"))]:
            if segment.exists():
                blob += segment.read_bytes()
    return blob


def test_no_original_value_survives_on_disk(shop: str) -> None:
    with psycopg.connect(shop, autocommit=True) as conn:
        before = _datafile_bytes(conn, "users")
        assert b"real.person42@corp.example.org" in before  # the probe works
        # Dead tuples: an in-place UPDATE would leave these behind.
        conn.execute("UPDATE users SET note = note || ''")
    _run(shop)
    with psycopg.connect(shop, autocommit=True) as conn:
        after = _datafile_bytes(conn, "users") + _datafile_bytes(conn, "orders")
    assert len(after) > 0
    assert b"corp.example.org" not in after
    assert b"Secret Lane" not in after


def test_failure_in_the_middle_leaves_the_database_untouched(shop: str) -> None:
    with psycopg.connect(shop) as conn:
        conn.execute(
            "ALTER TABLE orders ADD CONSTRAINT corp_only CHECK (email LIKE '%corp.example.org')"
        )
    with pytest.raises(masking.MaskingError, match="corp_only"):
        _run(shop)
    with psycopg.connect(shop) as conn:
        assert conn.execute(
            "SELECT count(*) FROM users WHERE email LIKE 'real.person%'"
        ).fetchone() == (3000,)
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'mayfly_stage'"
        ).fetchone() == (0,)


@pytest.mark.parametrize(
    ("where", "when"),
    [
        # users is staged (a view uses its e-mail), orders rewritten in place
        pytest.param("public.users", "indexing", id="staged-table-refilled"),
        pytest.param("public.orders", "analyzing", id="after-both-rewritten"),
    ],
)
def test_interrupt_during_swap_leaves_the_database_untouched(
    shop: str, where: str, when: str
) -> None:
    class Interrupt(Recorder):
        def phase(self, table: str, text: str) -> None:
            if table == where and text == when:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        masking.run(
            shop,
            rules.parse(RULES),
            ["public.users", "public.orders"],
            keys=KEYS,
            progress=Interrupt(),
        )
    with psycopg.connect(shop) as conn:
        assert conn.execute(
            "SELECT count(*) FROM users WHERE email LIKE 'real.person%'"
        ).fetchone() == (3000,)
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (6000,)


def test_missing_rule_fails_closed_before_touching_anything(shop: str) -> None:
    data = {
        "tables": {
            "users": {"personal": True, "columns": {"email": "email"}},
            "orders": {"personal": False},
        }
    }
    with pytest.raises(masking.MaskingError, match=r"public.users.phone: no masking rule"):
        _run(shop, data)
    with psycopg.connect(shop) as conn:
        assert conn.execute(
            "SELECT count(*) FROM users WHERE email LIKE 'real.person%'"
        ).fetchone() == (3000,)


def test_single_worker_gives_same_rows(shop: str) -> None:
    result = _run(shop, jobs=1)
    assert result.rows == 9000


def test_remasking_one_side_of_a_pseudonymised_key_masks_both(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "CREATE TABLE acct (id bigint PRIMARY KEY, email text);"
            "CREATE TABLE ev (id int PRIMARY KEY, acct_id bigint REFERENCES acct (id));"
            "INSERT INTO acct SELECT g, 'a' || g || '@corp.example.org'"
            " FROM generate_series(1, 50) g;"
            "INSERT INTO ev SELECT g, g FROM generate_series(1, 50) g;"
        )
    data = {
        "tables": {
            "acct": {"personal": True, "columns": {"id": "pseudonym", "email": "email"}},
            "ev": {"personal": True, "columns": {"id": "keep", "acct_id": "pseudonym"}},
        }
    }
    loaded = rules.parse(data)
    masking.run(pg_dsn, loaded, ["public.acct", "public.ev"], keys=KEYS, progress=Recorder())
    with psycopg.connect(pg_dsn) as conn:
        emails = conn.execute("SELECT id, email FROM acct ORDER BY id").fetchall()
    result = masking.run(pg_dsn, loaded, ["public.ev"], keys=KEYS, progress=Recorder())
    assert sorted(t.name for t in result.tables) == ["public.acct", "public.ev"]
    with psycopg.connect(pg_dsn) as conn:
        joined = conn.execute(
            "SELECT count(*) FROM ev JOIN acct ON acct.id = ev.acct_id"
        ).fetchone()
        assert joined == (50,)
        # e-mails are idempotent: already-masked addresses are kept as they are
        again = conn.execute("SELECT email FROM acct ORDER BY email").fetchall()
        assert sorted(e for _, e in emails) == [e for (e,) in again]


@pytest.mark.parametrize(
    "extended", [pytest.param(True, id="extended"), pytest.param(False, id="columns-only")]
)
def test_statistics_hold_no_original_values(shop: str, extended: bool) -> None:
    with psycopg.connect(shop, autocommit=True) as conn:
        if extended:
            conn.execute("CREATE STATISTICS users_names (mcv) ON first_name, last_name FROM users")
        conn.execute("ANALYZE users")
        stats = str(conn.execute("SELECT * FROM pg_stats WHERE tablename = 'users'").fetchall())
        assert "corp.example.org" in stats
        if extended:
            ext = str(conn.execute("SELECT most_common_vals FROM pg_stats_ext").fetchall())
            assert "Real" in ext
    _run(shop)
    with psycopg.connect(shop, autocommit=True) as conn:
        stats = str(conn.execute("SELECT * FROM pg_stats WHERE tablename = 'users'").fetchall())
        ext = str(conn.execute("SELECT most_common_vals FROM pg_stats_ext").fetchall())
        kept = conn.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'users' AND attname = 'id'"
        ).fetchone()
    assert "corp.example.org" not in stats
    assert "Secret Lane" not in stats
    assert "Real" not in stats
    assert "Real" not in ext
    assert kept == (1,)  # statistics of kept columns stay


def test_identity_generated_rls_sequences_and_children_survive(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " email text NOT NULL,"
            " domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED,"
            " ticket serial);"
            "CREATE TABLE vip (level int) INHERITS (people);"
            "INSERT INTO people (email) SELECT 'p' || g || '@corp.example.org'"
            " FROM generate_series(1, 100) g;"
            "INSERT INTO vip (id, email, level) VALUES (1000, 'boss@corp.example.org', 1);"
            "ALTER TABLE people ENABLE ROW LEVEL SECURITY;"
            "ALTER TABLE people FORCE ROW LEVEL SECURITY;"
            "CREATE POLICY nobody ON people USING (false);"
        )
    data = {
        "tables": {
            "people": {
                "personal": True,
                "columns": {"id": "keep", "email": "email", "domain": "keep", "ticket": "keep"},
            }
        }
    }
    result = masking.run(
        pg_dsn, rules.parse(data), ["public.people"], keys=KEYS, progress=Recorder()
    )
    assert result.rows == 100
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET row_security = off")
        rows = conn.execute("SELECT count(*), count(DISTINCT domain) FROM ONLY people").fetchone()
        assert rows is not None
        assert rows[0] == 100
        assert conn.execute(
            "SELECT count(*) FROM ONLY people WHERE domain NOT LIKE 'example.%'"
        ).fetchone() == (0,)
        flags = conn.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'people'"
        ).fetchone()
        assert flags == (True, True)
        assert conn.execute("SELECT count(*) FROM pg_policy").fetchone() == (1,)
        # sequences continue where they were; the child table was not touched
        new = conn.execute(
            "INSERT INTO people (email) VALUES ('x@example.com') RETURNING id, ticket"
        )
        assert new.fetchone() == (101, 102)  # ticket 101 went to the child row
        assert conn.execute("SELECT email FROM vip").fetchone() == ("boss@corp.example.org",)
