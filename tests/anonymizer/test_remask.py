"""Re-masking after a rules change, from the rules recorded in the database (real PostgreSQL)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from anonymizer import applied, masking, rules

from .test_cli import _app
from .test_masking import KEYS, RULES, SCHEMA, Recorder

Row = tuple[Any, ...]


def _changed(data: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(data)
    new["tables"]["users"]["columns"]["phone"] = "null"
    new["tables"]["users"]["columns"]["note"] = {"strategy": "partial", "keep_first": 2}
    return new


def _snapshot(dsn: str) -> tuple[list[Row], int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, first_name, email, phone, born, salary, note FROM users ORDER BY id"
        ).fetchall()
        orders = conn.execute("SELECT pg_relation_filenode('orders')").fetchone()
    assert orders is not None
    return rows, int(orders[0])


def test_changed_rules_remask_exactly_the_changed_columns(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SCHEMA)
    first = rules.parse(RULES)
    masking.run(pg_dsn, first, ["public.users", "public.orders"], keys=KEYS, progress=Recorder())
    before, orders_file = _snapshot(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        assert applied.pending(conn, first) == {}
        second = rules.parse(_changed(RULES))
        pending = applied.pending(conn, second)
    assert pending == {"public.users": frozenset({"phone", "note"})}
    result = masking.run(pg_dsn, second, [], keys=KEYS, progress=Recorder(), partial=pending)
    assert [(t.name, sorted(t.masked)) for t in result.tables] == [
        ("public.users", ["note", "phone"])
    ]
    after, orders_after = _snapshot(pg_dsn)
    assert orders_after == orders_file  # orders was not rewritten
    for old, new in zip(before, after, strict=True):
        # id, first name, e-mail, birth date (random noise!) and salary are kept as masked
        assert (old[0], old[1], old[2], old[4], old[5]) == (new[0], new[1], new[2], new[4], new[5])
        assert new[3] is None
        assert new[6] == "n" + "*" * (len(old[6]) - 1) or len(old[6]) <= 2
    with psycopg.connect(pg_dsn) as conn:
        assert applied.pending(conn, second) == {}
        stored = conn.execute(
            "SELECT rule FROM mayfly_masking.applied WHERE table_name = 'public.users'"
        ).fetchone()
    assert stored is not None
    assert stored[0]["columns"]["note"] == {
        "strategy": "partial",
        "keep_first": 2,
        "keep_last": 0,
        "mask": "*",
    }


def test_a_failed_run_records_nothing(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SCHEMA)
    masking.run(pg_dsn, rules.parse(RULES), ["public.users"], keys=KEYS, progress=Recorder())
    broken = _changed(RULES)
    broken["tables"]["users"]["columns"]["first_name"] = "null"  # NOT NULL column
    second = rules.parse(broken)
    with psycopg.connect(pg_dsn) as conn:
        pending = applied.pending(conn, second)
    with pytest.raises(masking.MaskingError, match="null on a NOT NULL column"):
        masking.run(pg_dsn, second, [], keys=KEYS, progress=Recorder(), partial=pending)
    with psycopg.connect(pg_dsn) as conn:
        assert applied.pending(conn, second) == pending


def test_cli_remasks_changed_rules_without_previous_rules(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SCHEMA)
    monkeypatch.setenv("MAYFLY_MASKING_KEY", "cli-test-secret-0123456789")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(RULES))
    args = ["anonymize", "--dsn", pg_dsn, "--rules", str(rules_file), "--json"]
    never = CliRunner().invoke(_app(), args)
    assert never.exit_code == 2
    assert "no record of an earlier masking run" in never.stderr
    first = CliRunner().invoke(_app(), [*args, "--all"])
    assert first.exit_code == 0, first.output
    nothing = CliRunner().invoke(_app(), args)
    assert nothing.exit_code == 0, nothing.output
    assert json.loads(nothing.stdout)["tables"] == []
    rules_file.write_text(yaml.safe_dump(_changed(RULES)))
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rule_changes"] == {"public.users": ["note", "phone"]}
    assert [(t["table"], t["masked"]) for t in summary["tables"]] == [
        ("public.users", ["phone", "note"])
    ]
    assert "rules changed for public.users: re-masking note, phone" in result.stderr
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(phone) FROM users").fetchone() == (0,)
