"""A tiny real sweep shared by the capacity integration tests (the real simulation, kept cheap)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from capacity.grid import build_points, build_tasks
from capacity.runner import run_sweep
from capacity.store import Scenario

TINY = Scenario(days=1.0, overrides={"workload.engineers": 40, "workload.teams": 8})
TINY_CLI = ["--days", "1", "--engineers", "40", "--teams", "8"]
POOLS = (0, 6)
SEEDS = (1, 2)
MAYFLY = str(Path(sys.executable).with_name("mayfly"))


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pool sizes 0 and 6 x seeds 1 and 2, one simulated day of 40 engineers, serially."""
    out = tmp_path_factory.mktemp("sweep")
    tasks = build_tasks(build_points(POOLS), SEEDS)
    outcome = run_sweep(out, tasks, scenario=TINY, jobs=1)
    assert (outcome.ran, outcome.skipped) == (4, 0)
    return out
