"""`mayfly blueprint check` and `mayfly routes`, run as a user runs them (the console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "blueprint.yaml"
MAYFLY = Path(sys.executable).parent / "mayfly"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAYFLY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"},
        check=False,
    )


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("blueprint", "routes"):
        assert command in result.stdout


def test_blueprint_check_ok() -> None:
    result = run("blueprint", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "25 services" in result.stdout
    assert "3 databases" in result.stdout


def test_blueprint_check_reports_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: Bad_Name\nrepositories: []\nservices:\n"
        "  - {name: a, team: t, image: i, calls: [ghost]}\nttl: forever\n"
    )
    result = run("blueprint", "check", str(bad))
    assert result.returncode == 2
    for path in ("name", "repositories", "ttl"):
        assert f"- {path}:" in result.stderr, result.stderr
    assert "expected" in result.stderr


def test_blueprint_check_missing_file(tmp_path: Path) -> None:
    result = run("blueprint", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


@pytest.mark.parametrize(
    ("mode", "expected_in_pr"),
    [
        pytest.param(
            "affected",
            {
                "orders",
                "checkout",
                "gateway",
                "web",
                "mobile-bff",
                "admin-api",
                "admin-ui",
                "refunds",
                "recommendations",
            },
            id="affected",
        ),
        pytest.param("full", None, id="full"),
    ],
)
def test_routes_json(mode: str, expected_in_pr: set[str] | None) -> None:
    result = run(
        "routes", "--blueprint", str(EXAMPLE), "--changed", "orders", "--mode", mode, "--json"
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    if expected_in_pr is not None:
        assert set(plan["in_pr"]) == expected_in_pr
    else:
        assert len(plan["in_pr"]) == 23
    assert set(plan["shared"]) == {"auth", "payments"}
    assert all(r["namespace"] in {"pr-example", "staging"} for r in plan["routes"])


def test_routes_table_and_error() -> None:
    ok = run("routes", "--blueprint", str(EXAMPLE), "--changed", "tax")
    assert ok.returncode == 0
    assert "changed by the pull request" in ok.stdout
    bad = run("routes", "--blueprint", str(EXAMPLE), "--changed", "payments")
    assert bad.returncode == 2
    assert "shared service 'payments'" in bad.stderr


def test_every_listed_command_resolves() -> None:
    """Each entry of the lazy command table imports and registers its command."""
    import typer

    from controller.cli import COMMANDS, app

    group = typer.main.get_command(app)
    ctx = group.make_context("mayfly", ["--help"], resilient_parsing=True)
    missing = [name for name in COMMANDS if group.get_command(ctx, name) is None]  # type: ignore[attr-defined]
    assert missing == []


@pytest.mark.parametrize("command", ["simulate", "loadtest", "status", "blueprint"])
def test_no_shell_completion_options_on_sub_commands(command: str) -> None:
    """Completion is off for `mayfly`; a single-command module must not bring it back."""
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--install-completion" not in result.stdout
    assert "--show-completion" not in result.stdout
