"""Sweep directories on disk: resumable run files, the manifest, consolidated tables, merge.

Layout of a sweep directory::

    manifest.json                 scenario shared by every run (days, params, overrides)
    runs/<task>.envs.parquet      environment records of one (point, seed) run
    runs/<task>.json              its summary; written last, so its presence marks the run done
    DONE                          marker: a sweep command finished (waited on by the merge Job)
    sweep.parquet                 tidy table, one row per point and seed (consolidated)
    environments.parquet          every environment record, with point and seed columns

Every file is written to a temporary name and renamed, so a killed sweep (or
a pod evicted mid-run) leaves no half-written run behind; resuming runs only
the tasks whose summary file is missing. This module does files only; it never
runs the simulation.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capacity.grid import Point, Task
from capacity.stats import normalise_points

MANIFEST = "manifest.json"
DONE = "DONE"
RUNS = "runs"
SWEEP_TABLE = "sweep.parquet"
ENV_TABLE = "environments.parquet"
ENV_COLUMNS = (
    "team",
    "hour_of_day",
    "requested_at_s",
    "spinup_s",
    "queue_wait_s",
    "claimed_warm_slot",
    "closed_at_s",
)


class StoreError(RuntimeError):
    """A sweep directory does not match what was asked (the user's to fix: new --out)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a run depends on besides its point and seed."""

    days: float
    params_text: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["overrides"] = dict(sorted(self.overrides.items()))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scenario:
        return cls(
            days=float(data["days"]),
            params_text=data.get("params_text"),
            overrides=dict(data.get("overrides", {})),
        )


def _tmp_name(path: Path) -> Path:
    """A temporary sibling unique across processes and pods (pids repeat in containers)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _tmp_name(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = _tmp_name(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _copy_atomic(source: Path, target: Path) -> None:
    tmp = _tmp_name(target)
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def open_sweep(directory: Path, scenario: Scenario) -> None:
    """Create the directory and manifest, or check an existing manifest matches `scenario`."""
    (directory / RUNS).mkdir(parents=True, exist_ok=True)
    path = directory / MANIFEST
    if path.exists():
        existing = read_scenario(directory)
        if existing.to_json() != scenario.to_json():
            raise StoreError(
                f"{directory} holds a sweep with a different scenario (days, params or "
                "overrides); resume with the same settings or choose a new --out"
            )
        return
    _write_atomic(path, json.dumps(scenario.to_json(), indent=2, sort_keys=True).encode())


def read_scenario(directory: Path) -> Scenario:
    path = directory / MANIFEST
    if not path.exists():
        raise StoreError(f"{directory} is not a sweep directory (no {MANIFEST}); run a sweep")
    return Scenario.from_json(json.loads(path.read_text()))


def is_done(directory: Path, task: Task) -> bool:
    return (directory / RUNS / f"{task.key}.json").exists()


def pending(directory: Path, tasks: Sequence[Task]) -> tuple[Task, ...]:
    """The tasks without a finished run file in `directory`."""
    return tuple(t for t in tasks if not is_done(directory, t))


def write_run(
    directory: Path, task: Task, *, summary: Mapping[str, Any], environments: pd.DataFrame
) -> None:
    """Store one finished run: environment records first, the summary (the marker) last."""
    runs = directory / RUNS
    _write_parquet(environments.reset_index(drop=True), runs / f"{task.key}.envs.parquet")
    record = {"point": asdict(task.point), "seed": task.seed, "summary": dict(summary)}
    _write_atomic(runs / f"{task.key}.json", json.dumps(record, sort_keys=True).encode())


def _point_cols(point: Mapping[str, Any], seed: int) -> dict[str, Any]:
    fields = Point(**point)
    return {
        "pool_size": fields.pool_size,
        "concurrency": fields.concurrency,
        "nodes": fields.nodes,
        "seed": seed,
    }


def consolidate(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rebuild `sweep.parquet` and `environments.parquet` from the run files; return both."""
    rows: list[dict[str, Any]] = []
    env_frames: list[pd.DataFrame] = []
    for path in sorted((directory / RUNS).glob("*.json")):
        record = json.loads(path.read_text())
        cols = _point_cols(record["point"], int(record["seed"]))
        rows.append({**cols, **record["summary"]})
        envs = pd.read_parquet(path.with_name(path.name.removesuffix(".json") + ".envs.parquet"))
        env_frames.append(envs.assign(**cols))
    if not rows:
        raise StoreError(f"{directory} has no finished runs yet; run `mayfly capacity sweep`")
    order = ["pool_size", "concurrency", "nodes", "seed"]
    runs = normalise_points(pd.DataFrame(rows))
    runs = runs.sort_values(order, kind="stable").reset_index(drop=True)
    envs = normalise_points(pd.concat(env_frames, ignore_index=True))
    envs = envs[[*order, *[c for c in envs.columns if c not in order]]]
    envs = envs.sort_values([*order, "requested_at_s"], kind="stable").reset_index(drop=True)
    _write_parquet(runs, directory / SWEEP_TABLE)
    _write_parquet(envs, directory / ENV_TABLE)
    return runs, envs


def mark_done(directory: Path) -> None:
    """Record that a sweep (or shard) command ran to the end in `directory`."""
    _write_atomic(directory / DONE, b"")


def load_sweep(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The consolidated tables, rebuilt first if run files were added since."""
    done = len(list((directory / RUNS).glob("*.json"))) if (directory / RUNS).exists() else 0
    table = directory / SWEEP_TABLE
    if table.exists() and (directory / ENV_TABLE).exists():
        runs = pd.read_parquet(table)
        if len(runs) == done:
            return runs, pd.read_parquet(directory / ENV_TABLE)
    if done == 0:
        raise StoreError(f"{directory} has no finished runs; run `mayfly capacity sweep --out` it")
    return consolidate(directory)


def merge(sources: Sequence[Path], out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copy the runs of several (shard) directories into `out` and consolidate.

    Every source must share one scenario; a run present in several sources is
    taken once (same point, seed and scenario give the same run).
    """
    if not sources:
        raise StoreError("give at least one sweep directory to merge")
    scenario = read_scenario(sources[0])
    for source in sources[1:]:
        if read_scenario(source).to_json() != scenario.to_json():
            raise StoreError(f"{source} was swept with a different scenario than {sources[0]}")
    open_sweep(out, scenario)
    for source in sources:
        for summary in sorted((source / RUNS).glob("*.json")):
            envs = summary.with_name(summary.name.removesuffix(".json") + ".envs.parquet")
            target = out / RUNS / summary.name
            if target.exists() or source.resolve() == out.resolve():
                continue
            _copy_atomic(envs, out / RUNS / envs.name)
            _copy_atomic(summary, target)
    return consolidate(out)


SENSITIVITY_TABLE = "sensitivity.parquet"


def write_sensitivity(directory: Path, effects: pd.DataFrame, *, baseline: float) -> None:
    """Store a sensitivity table next to the sweep it was centred on."""
    _write_parquet(effects.assign(baseline=baseline), directory / SENSITIVITY_TABLE)


def read_sensitivity(directory: Path) -> tuple[pd.DataFrame, float] | None:
    """(effects, baseline) if `mayfly capacity sensitivity` ran on this sweep, else None."""
    path = directory / SENSITIVITY_TABLE
    if not path.exists():
        return None
    table = pd.read_parquet(path)
    return table.drop(columns="baseline"), float(table["baseline"].iloc[0])
