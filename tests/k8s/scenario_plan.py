"""What a scenario file means on the cluster tier: a scaled-down run and the checks that apply.

Pure: `plan_for(scenario)` reads the scenario's overrides and expectations
(sim/scenario_format.py, no SimPy) and says how many pull requests to open,
whether they arrive as a burst, the warm-pool size, which faults map to the
cluster (controller crash loop: kill and restart the controller; clone
failures: the storage leaves the first clone of some PRs unprovisioned;
golden refresh: a new ready golden VolumeSnapshot mid-run), and, for every
expectation, whether it is checked as written, scaled, or skipped with the
reason. Nothing is silently dropped. It runs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.scenario_format import Expectation, Scenario

BASE_PRS = 3
MAX_PRS = 6
DEFAULT_POOL = 3  # the warm pool covers the staggered arrivals, as the example schedule does
BURST_CAP = 3  # global cap on concurrent provisions in bursts: queues form and drain

_LATENCY = (
    "kwok runs Jobs and pods in about a second and the dev binder clones nothing, so a "
    "cluster-tier latency measures the control plane only; the sim checks this budget"
)
SKIPPED = {
    "spinup_p50_s": _LATENCY,
    "spinup_p95_s": _LATENCY,
    "spinup_p99_s": _LATENCY,
    "masking_p95_s": _LATENCY,
    "queue_wait_p95_s": _LATENCY,
    "teardown_lag_p95_s": _LATENCY,
    "api_conflicts": (
        "the sim counts its model API's conflicting writes; on the cluster a 409 is retried by "
        "the work queue, so the run checks instead that no volume serves two environments"
    ),
}
AS_WRITTEN = {"orphans", "sla_attainment", "failed_environments", "pool_hit_rate"}


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """One scenario, scaled down to the cluster tier."""

    name: str
    seed: int
    prs: int
    burst: bool
    pool_size: int
    max_concurrent: int
    clone_failures: int  # PRs whose first clone is never provisioned
    crash_restarts: int  # controller SIGKILLed and restarted while provisioning
    golden_refresh: bool
    checks: tuple[Expectation, ...]
    skipped: tuple[tuple[str, str], ...]  # (expectation, reason)
    scaled: tuple[tuple[str, str], ...]  # (expectation as checked, why)


def _section(sc: Scenario, name: str) -> dict[str, object]:
    value = sc.overrides.get(name) or {}
    return dict(value) if isinstance(value, dict) else {}


def _number(value: object, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) else default


def plan_for(sc: Scenario) -> ClusterPlan:
    workload, faults = _section(sc, "workload"), _section(sc, "faults")
    pool, cluster = _section(sc, "pool"), _section(sc, "cluster")
    factor = max(
        _number(workload.get("monday_burst_factor"), 1.0),
        _number(workload.get("release_cut_factor"), 1.0),
    )
    burst = factor > 1.0
    prs = min(MAX_PRS, round(BASE_PRS * math.sqrt(factor))) if burst else BASE_PRS
    rate = _number(faults.get("clone_failure_rate"))
    clone_failures = max(1, round(rate * prs)) if rate > 0 else 0
    crash = bool(faults.get("crash_loop") or faults.get("controller_down"))
    checks: list[Expectation] = []
    skipped: list[tuple[str, str]] = []
    scaled: list[tuple[str, str]] = []
    for exp in sc.expect:
        if exp.metric in AS_WRITTEN:
            checks.append(exp)
        elif exp.metric == "environments_with_failures" and clone_failures:
            mine = Expectation(exp.metric, ">=", float(clone_failures))
            checks.append(mine)
            scaled.append((str(mine), f"the first clone of {clone_failures} of {prs} PRs fails"))
        else:
            reason = SKIPPED.get(exp.metric, "no counterpart on the cluster tier")
            skipped.append((str(exp), reason))
    return ClusterPlan(
        name=sc.name,
        seed=sc.seed,
        prs=prs,
        burst=burst,
        pool_size=int(_number(pool.get("size"), DEFAULT_POOL)),
        max_concurrent=BURST_CAP if burst else 200,
        clone_failures=clone_failures,
        crash_restarts=2 if crash else 0,
        golden_refresh=bool(cluster.get("extra_golden_refresh_h")),
        checks=tuple(checks),
        skipped=tuple(skipped),
        scaled=tuple(scaled),
    )
