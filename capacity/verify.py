"""Check an hourly pool schedule in the simulation itself, not only by the sweep's estimate.

The schedule of `capacity.recommend` is derived from runs with a constant pool;
a pool that changes size by the hour behaves differently (slots must warm
before the peak), so this module writes the scenario's blueprint with the
recommended `pool` block into a temporary file, runs the simulation with it
(`pool.size` unset, so the blueprint's schedule applies) for a few seeds, and
returns the attainment with the same bound as the sweep. Runs the simulation
through `capacity.runner`; it does not draw or print.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from capacity.recommend import Recommendation
from capacity.runner import Progress, load_scenario_params, run_many
from capacity.stats import attainment_by, t_bounds, wilson_lower
from capacity.store import Scenario
from sim.run import REPO_ROOT


@dataclass(frozen=True, slots=True)
class Verification:
    """Attainment of the hourly schedule over `seeds` runs, with the sweep's kind of bound."""

    seeds: int
    attainment: float
    attainment_lower: float
    per_seed: tuple[float, ...]


def scheduled_blueprint(scenario: Scenario, rec: Recommendation, directory: Path) -> Path:
    """The scenario's blueprint with the recommended pool block, written under `directory`."""
    params = load_scenario_params(scenario, {})
    source = Path(params.run.blueprint)
    if not source.is_absolute() and not source.exists():
        source = REPO_ROOT / source
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    pool = dict(data.get("pool") or {})
    pool.update(rec.pool_snippet()["pool"])
    pool["utcOffsetHours"] = int(params.workload.utc_offset_hours)
    data["pool"] = pool
    path = directory / "blueprint-scheduled.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def verify_schedule(
    scenario: Scenario,
    rec: Recommendation,
    *,
    seeds: int = 3,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Simulate the recommended concurrency and nodes with the hourly pool schedule."""
    centre = rec.centre()
    with tempfile.TemporaryDirectory(prefix="mayfly-verify-") as tmp:
        blueprint = scheduled_blueprint(scenario, rec, Path(tmp))
        overrides = {
            **centre.overrides(),
            "pool.size": None,
            "run.blueprint": str(blueprint),
            "run.sla_s": rec.sla_seconds,
        }
        runs = [(overrides, seed) for seed in range(1, seeds + 1)]
        results = run_many(runs, scenario=scenario, jobs=jobs, progress=progress)
    envs = pd.concat([e.assign(seed=k) for k, (_, e) in enumerate(results)], ignore_index=True)
    table = attainment_by(envs, ["seed"], sla_seconds=rec.sla_seconds)
    per_seed = tuple(float(a) for a in table["attainment"].fillna(0.0))
    mean, lower_t, _ = t_bounds(list(per_seed), confidence=rec.confidence)
    lower_w = wilson_lower(
        int(table["met"].sum()), int(table["environments"].sum()), confidence=rec.confidence
    )
    return Verification(
        seeds=seeds, attainment=mean, attainment_lower=min(lower_t, lower_w), per_seed=per_seed
    )
