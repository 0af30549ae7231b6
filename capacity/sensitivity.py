"""One-at-a-time sensitivity of p95 spin-up around the recommended setting (the tornado chart).

Each key simulation parameter is moved by -delta and +delta (relative, e.g.
20 %) with every other parameter at its value in the sweep's scenario and the
knobs at the recommended point; a few seeds per run keep it cheap. The result
is a small table (parameter, base value, low, high, swing) that
`capacity.plots.tornado` draws. Runs the simulation through `capacity.runner`;
it does not draw or print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from capacity.runner import Progress, load_scenario_params, run_many
from capacity.store import Scenario

DEFAULT_PARAMETERS: tuple[str, ...] = (
    "workload.prs_per_engineer_day",
    "workload.peak_factor",
    "cluster.claim.scale",
    "cluster.clone.scale",
    "cluster.warm.scale",
    "cluster.migrations.scale",
    "cluster.masking_rows_per_s",
    "cluster.image_pull.scale",
    "cluster.uncached_image_fraction",
    "cluster.pod_start.scale",
)
"""Dotted `sim.params` keys perturbed by default: demand, and every latency on the spin-up path."""

METRIC = "spinup_p95_s"


def base_value(scenario: Scenario, key: str) -> float:
    """The value of a dotted parameter in the scenario (overrides first, then the params file)."""
    if key in scenario.overrides:
        return float(scenario.overrides[key])
    node: Any = load_scenario_params(scenario, {})
    for part in key.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return float(node)


def perturbed(value: float, delta: float, *, integer: bool) -> tuple[float, float]:
    """(low, high) = value x (1 -/+ delta); integers move by at least one unit."""
    low, high = value * (1 - delta), value * (1 + delta)
    if integer:
        low_i, high_i = round(low), round(high)
        if low_i == round(value):
            low_i -= 1
        if high_i == round(value):
            high_i += 1
        return float(max(low_i, 0)), float(high_i)
    return low, high


def run_sensitivity(
    scenario: Scenario,
    point_overrides: Mapping[str, Any],
    *,
    parameters: Sequence[str] = DEFAULT_PARAMETERS,
    delta: float = 0.2,
    seeds: Sequence[int] = (1, 2),
    jobs: int | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, float]:
    """(effects table, baseline metric): mean p95 spin-up over `seeds` at each perturbation."""
    plan: list[tuple[str, str, dict[str, Any]]] = [("baseline", "base", dict(point_overrides))]
    bases: dict[str, float] = {}
    for key in parameters:
        value = base_value(scenario, key)
        bases[key] = value
        integer = float(value).is_integer() and not isinstance(value, bool) and value >= 1
        low, high = perturbed(value, delta, integer=integer)
        for side, new in (("low", low), ("high", high)):
            plan.append((key, side, {**point_overrides, key: int(new) if integer else new}))
    runs = [(overrides, seed) for _, _, overrides in plan for seed in seeds]
    summaries = [s for s, _ in run_many(runs, scenario=scenario, jobs=jobs, progress=progress)]
    values: dict[tuple[str, str], list[float]] = {}
    for (key, side, _), chunk_start in zip(plan, range(0, len(runs), len(seeds)), strict=True):
        chunk = summaries[chunk_start : chunk_start + len(seeds)]
        values[(key, side)] = [float(s[METRIC]) for s in chunk]
    baseline = sum(values[("baseline", "base")]) / len(seeds)
    rows = []
    for key in parameters:
        low = sum(values[(key, "low")]) / len(seeds)
        high = sum(values[(key, "high")]) / len(seeds)
        rows.append(
            {
                "parameter": key,
                "base_value": bases[key],
                "delta": delta,
                "low": low,
                "high": high,
                "swing": abs(high - low),
            }
        )
    effects = pd.DataFrame(rows).sort_values("swing", ascending=False, ignore_index=True)
    return effects, baseline
