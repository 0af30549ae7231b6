"""The capacity-planning notebook runs top to bottom (nbclient, the venv's kernel)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.capacity.conftest import POOLS, SEEDS, TINY

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "capacity_planning.ipynb"


def test_notebook_executes_without_errors(
    tiny_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(tiny_sweep, out)  # the notebook resumes it: no sweep runs are repeated
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source = "\n".join(
        [
            "from pathlib import Path",
            f"OUT = Path({str(out)!r})",
            f"POOL_SIZES = {POOLS!r}",
            "CONCURRENCY = (None,)",
            "NODES = (None,)",
            f"SEEDS = {len(SEEDS)}",
            f"DAYS = {TINY.days!r}",
            f"OVERRIDES = {dict(TINY.overrides)!r}",
            "SLA_SECONDS = 90.0",
            "TARGET = 0.8",
            "JOBS = 1",
            "SENSITIVITY_PARAMETERS = ('cluster.clone.scale',)",
        ]
    )
    # The "python3" kernel is ipykernel's own spec: it starts this interpreter (the venv's).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    client = NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "sensitivity.parquet").exists()
