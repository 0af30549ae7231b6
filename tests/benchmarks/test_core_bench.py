"""benchmarks/core.py answers --help without running (its only output is results/core.json)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_help_prints_usage_and_leaves_the_recorded_result_alone() -> None:
    result_file = ROOT / "benchmarks" / "results" / "core.json"
    before = result_file.stat().st_mtime_ns
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "core.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    assert "Benchmark of `reconcile`" in done.stdout
    assert result_file.stat().st_mtime_ns == before
