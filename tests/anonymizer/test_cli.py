"""The `mayfly` data-plane commands: exit codes, JSON shape, messages that say what to do."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from anonymizer.cli import register

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_migrations_touched_json_shape() -> None:
    result = runner.invoke(
        _app(), ["migrations", "touched", "--json", str(EXAMPLES / "migrations")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"tables", "read", "files"}
    assert "public.users" in data["tables"]
    first = data["files"][0]
    assert set(first) == {"path", "tables", "read", "statements"}
    assert set(first["statements"][0]) == {"line", "kind", "tables", "columns"}
    assert "EXECUTE of a dynamic string" in result.stderr


def test_unparsable_migration_exits_non_zero_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "V9__bad.sql"
    bad.write_text("SELECT 1;\nCREAT TABLE x (a int);\n")
    result = runner.invoke(_app(), ["migrations", "touched", str(bad)])
    assert result.exit_code == 1
    assert f'{bad}:2: syntax error at or near "CREAT"' in result.stderr


def test_masking_check_fails_closed_naming_table_column_and_file(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    text = (EXAMPLES / "masking-rules.yaml").read_text()
    rules_file.write_text(text.replace("      street: {strategy: address, part: street}\n", "", 1))
    result = runner.invoke(
        _app(),
        [
            "masking",
            "check",
            "--rules",
            str(rules_file),
            "--migrations",
            str(EXAMPLES / "migrations"),
        ],
    )
    assert result.exit_code == 1
    assert "public.users.street (added by " in result.stderr
    assert "V2__add_user_address.sql:2" in result.stderr


def test_masking_check_passes_on_the_example() -> None:
    result = runner.invoke(
        _app(),
        [
            "masking",
            "check",
            "--rules",
            str(EXAMPLES / "masking-rules.yaml"),
            "--migrations",
            str(EXAMPLES / "migrations"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rules OK" in result.stdout


def test_anonymize_from_migrations_then_dead_database(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_dsn) as conn:
        for f in sorted((EXAMPLES / "migrations").glob("V*.sql")):
            conn.execute(f.read_text())  # type: ignore[arg-type]
    args = ["anonymize", "--dsn", pg_dsn, "--rules", str(EXAMPLES / "masking-rules.yaml")]
    monkeypatch.delenv("MAYFLY_MASKING_KEY", raising=False)
    result = runner.invoke(_app(), [*args, "--tables", "users"])
    assert result.exit_code == 2
    assert "set MAYFLY_MASKING_KEY" in result.stderr
    monkeypatch.setenv("MAYFLY_MASKING_KEY", "cli-test-secret-0123456789")
    mig = str(EXAMPLES / "migrations" / "V2__add_user_address.sql")
    result = runner.invoke(_app(), [*args, "--migrations", mig, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [t["table"] for t in summary["tables"]] == ["public.users"]
    assert "event=table_done table=public.users" in result.stderr  # plain logs when not a TTY
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM users WHERE street LIKE '%Secret%'"
        ).fetchone() == (0,)
    dead = runner.invoke(
        _app(),
        [
            "anonymize",
            "--dsn",
            "host=/nonexistent port=1",
            "--rules",
            str(EXAMPLES / "masking-rules.yaml"),
            "--tables",
            "users",
        ],
    )
    assert dead.exit_code == 1
    assert "cannot connect to the database" in dead.stderr


def test_sigterm_during_the_swap_leaves_the_database_untouched(pg_dsn: str) -> None:
    """A real signal to the masking Job's process while its swap waits on a lock."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with psycopg.connect(pg_dsn) as conn:
        for f in sorted((EXAMPLES / "migrations").glob("V*.sql")):
            conn.execute(f.read_text())  # type: ignore[arg-type]
    reader = psycopg.connect(pg_dsn)
    reader.execute("SELECT count(*) FROM users")  # holds ACCESS SHARE until rollback
    env = {**os.environ, "MAYFLY_MASKING_KEY": "cli-test-secret-0123456789"}
    code = "from anonymizer.cli import register; import typer; a = typer.Typer(); register(a); a()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "anonymize",
            "--dsn",
            pg_dsn,
            "--rules",
            str(EXAMPLES / "masking-rules.yaml"),
            "--tables",
            "users",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "event=chunk_masked" in line:
                break
        time.sleep(1.5)  # the swap now waits for the reader's lock, inside its transaction
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130, rest
        assert "nothing was changed" in rest
    finally:
        proc.kill()
        reader.rollback()
        reader.close()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM users WHERE email LIKE 'real.person%'"
        ).fetchone() == (10000,)
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'")
        assert indexes.fetchone() == (2,)


def test_masking_check_against_a_live_schema(pg_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_dsn) as conn:
        for f in sorted((EXAMPLES / "migrations").glob("V*.sql")):
            conn.execute(f.read_text())  # type: ignore[arg-type]
        conn.execute("ALTER TABLE users ADD COLUMN nickname text")  # added outside migrations
    args = ["masking", "check", "--dsn", pg_dsn, "--rules"]
    ok = runner.invoke(_app(), [*args, str(EXAMPLES / "masking-rules.yaml")])
    assert ok.exit_code == 1
    assert "public.users.nickname: no masking rule" in ok.stderr
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        (EXAMPLES / "masking-rules.yaml")
        .read_text()
        .replace("      phone: phone\n", "      phone: noise\n")
        + "  public.ghost:\n    personal: false\n"
    )
    result = runner.invoke(_app(), [*args, str(bad)])
    assert result.exit_code == 1
    assert "public.users.phone: noise needs a numeric column" in result.stderr
    assert "public.ghost: in the rules but not in the database" in result.stderr
