"""The throwaway-server helper: clear errors when PostgreSQL is missing or will not start."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer import pgserver


def test_missing_binaries_say_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_BINDIR", str(tmp_path / "nowhere"))
    with pytest.raises(pgserver.PostgresError, match="scripts/ensure-postgres"):
        pgserver.initdb(tmp_path / "data")


def test_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    datadir = tmp_path / "data"
    datadir.mkdir()
    (datadir / "PG_VERSION").write_text("15\n")  # not a real cluster
    with pytest.raises(pgserver.PostgresError, match="did not start"):
        pgserver.start(datadir, tmp_path / "sock", user=None, timeout=5)
