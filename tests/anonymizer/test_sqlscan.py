"""Migration SQL analysis: touched vs read tables, columns, lines, DO blocks, errors."""

from __future__ import annotations

import pytest

from anonymizer.sqlscan import SqlParseError, analyze

CASES = [
    pytest.param(
        "CREATE TABLE users (id bigint PRIMARY KEY, org int REFERENCES orgs (id));",
        ["public.users"],
        ["public.orgs"],
        id="create-table-reads-referenced",
    ),
    pytest.param(
        "INSERT INTO audit (who) SELECT name FROM users u JOIN teams t ON t.id = u.team;",
        ["public.audit"],
        ["public.teams", "public.users"],
        id="insert-select",
    ),
    pytest.param(
        "UPDATE accounts a SET balance = 0 FROM ledger l WHERE l.id = a.id;",
        ["public.accounts"],
        ["public.ledger"],
        id="update-from",
    ),
    pytest.param(
        "DELETE FROM sessions s USING users u WHERE u.id = s.uid;",
        ["public.sessions"],
        ["public.users"],
        id="delete-using",
    ),
    pytest.param(
        "MERGE INTO stock t USING deliveries d ON t.sku = d.sku "
        "WHEN MATCHED THEN UPDATE SET qty = t.qty + d.qty;",
        ["public.stock"],
        ["public.deliveries"],
        id="merge",
    ),
    pytest.param("COPY users (id, email) FROM '/tmp/x.csv';", ["public.users"], [], id="copy-from"),
    pytest.param("COPY users TO '/tmp/x.csv';", [], ["public.users"], id="copy-to-only-reads"),
    pytest.param(
        "ALTER TABLE users RENAME TO customers;",
        ["public.customers", "public.users"],
        [],
        id="rename-old-and-new",
    ),
    pytest.param("DROP TABLE a, app.b;", ["app.b", "public.a"], [], id="drop-qualified"),
    pytest.param("TRUNCATE public.a, a;", ["public.a"], [], id="public-qualified-is-same"),
    pytest.param("CREATE INDEX ON users (email);", ["public.users"], [], id="index"),
    pytest.param(
        "CREATE VIEW active AS SELECT * FROM users WHERE active;",
        ["public.active"],
        ["public.users"],
        id="view-query-is-read",
    ),
    pytest.param(
        "WITH recent AS (SELECT * FROM orders) INSERT INTO archive SELECT * FROM recent;",
        ["public.archive"],
        ["public.orders"],
        id="cte-name-is-not-a-table",
    ),
    pytest.param(
        "WITH gone AS (DELETE FROM queue RETURNING *) INSERT INTO done SELECT * FROM gone;",
        ["public.done", "public.queue"],
        [],
        id="data-modifying-cte-touches",
    ),
    pytest.param("SELECT * FROM users;", [], ["public.users"], id="select-reads"),
    pytest.param("CREATE TEMP TABLE scratch (x int);", [], [], id="temp-table-ignored"),
    pytest.param(
        "ALTER TABLE app.users ADD COLUMN phone text;", ["app.users"], [], id="other-schema-kept"
    ),
]


@pytest.mark.parametrize(("sql", "touched", "read"), CASES)
def test_touched_and_read(sql: str, touched: list[str], read: list[str]) -> None:
    (statement,), warnings = analyze(sql)
    assert list(statement.tables) == touched
    assert list(statement.read) == read
    assert warnings == []


@pytest.mark.parametrize(
    ("sql", "columns", "added"),
    [
        pytest.param(
            "CREATE TABLE t (a int, b text);",
            {"public.t": ("a", "b")},
            (("public.t", "a"), ("public.t", "b")),
            id="create",
        ),
        pytest.param(
            "ALTER TABLE t ADD COLUMN c int, ALTER COLUMN d TYPE text;",
            {"public.t": ("c", "d")},
            (("public.t", "c"),),
            id="alter-add-and-type",
        ),
        pytest.param(
            "ALTER TABLE t RENAME COLUMN a TO b;",
            {"public.t": ("a", "b")},
            (("public.t", "b"),),
            id="rename-column",
        ),
        pytest.param("UPDATE t SET x = 1, y = 2;", {"public.t": ("x", "y")}, (), id="update-set"),
        pytest.param(
            "INSERT INTO t (p, q) VALUES (1, 2);", {"public.t": ("p", "q")}, (), id="insert"
        ),
    ],
)
def test_columns(sql: str, columns: dict[str, tuple[str, ...]], added: tuple[object, ...]) -> None:
    (statement,), _ = analyze(sql)
    assert statement.columns == columns
    assert statement.added == added


def test_lines_and_kinds_skip_comments() -> None:
    sql = "-- héllo\n\nCREATE TABLE a (x int);\n/* c */\nINSERT INTO a VALUES (1);\n"
    statements, _ = analyze(sql)
    assert [(s.line, s.kind) for s in statements] == [(3, "create_table"), (5, "insert")]


def test_do_block_static_sql_and_dynamic_warning() -> None:
    sql = (
        "SELECT 1;\n"
        "DO $$\n"
        "BEGIN\n"
        "  UPDATE users SET email = lower(email);\n"
        "  IF EXISTS (SELECT 1 FROM flags) THEN\n"
        "    INSERT INTO audit SELECT * FROM users;\n"
        "  END IF;\n"
        "  EXECUTE 'DROP TABLE ' || 'x';\n"
        "END $$;\n"
    )
    statements, warnings = analyze(sql)
    writes = [(s.line, s.kind, s.tables) for s in statements if s.tables]
    assert writes == [(4, "update", ("public.users",)), (6, "insert", ("public.audit",))]
    assert any("public.flags" in s.read for s in statements)
    assert [(w.line, "EXECUTE" in w.message) for w in warnings] == [(8, True)]


def test_parse_error_has_line_and_parser_message() -> None:
    with pytest.raises(SqlParseError) as err:
        analyze("SELECT 1;\n\nCREATE TABLEE x ();\n")
    assert err.value.line == 3
    assert 'syntax error at or near "TABLEE"' in err.value.message


def test_copy_from_stdin_data_is_skipped() -> None:
    sql = "COPY t (a) FROM stdin;\n1\n2\n\\.\nDELETE FROM u;\n"
    statements, _ = analyze(sql)
    assert [(s.line, s.tables) for s in statements] == [(1, ("public.t",)), (5, ("public.u",))]


EQUIVALENCE = [
    *(p.values[0] for p in CASES),
    'INSERT INTO "Weird ""Name""" SELECT * FROM "Ünï" JOIN ONLY app."T" USING (id);',
    "CREATE TABLE x (LIKE y INCLUDING ALL, z int CHECK (z > 0));",
    "ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1);",
    "ALTER INDEX ix RENAME TO ix2;",
    "UPDATE t SET a = (SELECT max(b) FROM u WHERE u.id = t.id) WHERE EXISTS (SELECT 1 FROM v);",
    "SELECT * INTO newtab FROM a, LATERAL (SELECT * FROM b) s;",
    "CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM big;",
    "GRANT SELECT ON secret TO someone; LOCK TABLE t IN SHARE MODE; VACUUM big;",
]


@pytest.mark.parametrize("sql", EQUIVALENCE)
def test_fast_read_scan_matches_the_tree_walk(sql: str) -> None:
    """The regex scan of the parser's JSON finds exactly what walking the tree finds."""
    import json

    from pglast import parser

    from anonymizer.sqlscan import analyze_node

    fast, _ = analyze(sql)
    tree = json.loads(parser.parse_sql_json(sql))
    slow = []
    for raw in tree["stmts"]:
        ((kind, body),) = raw["stmt"].items()
        slow.append(analyze_node(kind, body, line=0))
    assert [(s.tables, s.read) for s in fast] == [(s.tables, s.read) for s in slow]
