"""The run summary: the JSON keys of issue 3 computed from the recorder's records.

Pure reduction of records to numbers (nearest-rank percentiles, rounded so
the JSON is byte-identical for a seed). It never runs or changes anything.
"""

from __future__ import annotations

from typing import Any

from sim.params import SimParams
from sim.records import Recorder, percentile


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summarise(
    recorder: Recorder,
    *,
    params: SimParams,
    prs: int,
    orphans: int,
    events: int,
    hung: int,
    capacity_waits: list[float],
    capacity_blocked: int,
) -> dict[str, Any]:
    """Every number of the summary except `wall_seconds`."""
    sla = params.run.sla_s
    recs = recorder.records
    spinups = [r.spinup_s for r in recs if r.spinup_s is not None]
    eligible = [
        r
        for r in recs
        if r.spinup_s is not None
        or (
            (r.closed_at_s is None or r.closed_at_s - r.requested_at_s > sla)
            and r.requested_at_s + sla <= params.run.days * 86400
        )
    ]
    met = sum(1 for r in eligible if r.spinup_s is not None and r.spinup_s <= sla)
    waits = [r.queue_wait_s for r in recs if r.queue_wait_s is not None]
    lags = [
        r.gone_at_s - r.closed_at_s
        for r in recs
        if r.gone_at_s is not None and r.closed_at_s is not None
    ]
    node_hours = params.cluster.nodes * params.run.days * 24
    volumes = recorder.claims + recorder.clones
    return {
        "prs": prs,
        "environments": len(recs),
        "ready_environments": len(spinups),
        "spinup_p50_s": _r(percentile(spinups, 50)),
        "spinup_p95_s": _r(percentile(spinups, 95)),
        "spinup_p99_s": _r(percentile(spinups, 99)),
        "spinup_mean_s": _r(sum(spinups) / len(spinups) if spinups else None),
        "sla_s": sla,
        "sla_attainment": _r(met / len(eligible) if eligible else None, 4),
        "masking_p95_s": _r(percentile(recorder.masking_runs, 95)),
        "queue_wait_mean_s": _r(sum(waits) / len(waits) if waits else None),
        "queue_wait_p95_s": _r(percentile(waits, 95)),
        "teardown_lag_p95_s": _r(percentile(lags, 95)),
        "capacity_wait_p95_s": _r(percentile(capacity_waits, 95)),
        "deploys_blocked_on_capacity": capacity_blocked,
        "orphans": orphans,
        "failed_environments": sum(1 for r in recs if r.failed_reason and r.spinup_s is None),
        "environments_with_failures": sum(1 for r in recs if r.failures),
        "hung_operations": hung,
        "peak_concurrent_envs": recorder.peak_live,
        "pool_utilisation": _r(recorder.claims / recorder.warmed if recorder.warmed else None, 4),
        "pool_hit_rate": _r(recorder.claims / volumes if volumes else None, 4),
        "node_hours": _r(node_hours),
        "cost_usd": _r(node_hours * params.cost.per_node_hour, 2),
        "reconcile_calls": recorder.reconciles,
        "reconcile_mean_prs": _r(recorder.desired_prs_total / max(recorder.reconciles, 1), 1),
        "reconcile_mean_envs": _r(recorder.observed_envs_total / max(recorder.reconciles, 1), 1),
        "actions_applied": recorder.actions,
        "api_conflicts": recorder.conflicts,
        "sim_events": events,
    }
