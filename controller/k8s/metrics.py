"""Prometheus metrics of the controller (its own registry, served by `controller run`).

Phase durations, time from first sight to Ready (with a 90 s bucket: the
SLA), queue depth, reconcile errors by kind, orphans removed, actions
applied. Labels are bounded enums (phase, action, error kind), never names
or personal data. No I/O except what prometheus_client does when scraped.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from controller.core.types import EnvStatus, Phase

REGISTRY = CollectorRegistry()

PHASE_SECONDS = Histogram(
    "mayfly_phase_duration_seconds",
    "Time spent in each lifecycle phase, observed when the phase is left.",
    ["phase"],
    buckets=(1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800),
    registry=REGISTRY,
)
TIME_TO_READY = Histogram(
    "mayfly_time_to_ready_seconds",
    "From the first phase recorded to Ready (the 90 s SLA is the 90 bucket).",
    buckets=(5, 10, 20, 30, 45, 60, 75, 90, 120, 180, 300, 600),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "mayfly_workqueue_depth", "Keys waiting in the controller's work queue.", registry=REGISTRY
)
RECONCILE_ERRORS = Counter(
    "mayfly_reconcile_errors_total",
    "Failed reconcile cycles or actions, by error kind.",
    ["kind"],
    registry=REGISTRY,
)
RECONCILES = Counter("mayfly_reconciles_total", "Reconcile cycles run.", registry=REGISTRY)
ACTIONS = Counter(
    "mayfly_actions_total", "Actions applied, by kind.", ["action"], registry=REGISTRY
)
ORPHANS_REMOVED = Counter(
    "mayfly_orphans_removed_total",
    "Namespaces or volumes torn down whose PreviewEnvironment no longer exists.",
    registry=REGISTRY,
)
RECORDS_FORGOTTEN = Counter(
    "mayfly_records_forgotten_total",
    "PreviewEnvironments of closed pull requests deleted after the retention window.",
    registry=REGISTRY,
)
ENVIRONMENTS = Gauge("mayfly_environments", "Environments by phase.", ["phase"], registry=REGISTRY)
CYCLE_SECONDS = Histogram(
    "mayfly_reconcile_cycle_seconds",
    "Duration of each part of a reconcile cycle (fetch, decide, apply).",
    ["part"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
LEADER = Gauge("mayfly_leader", "1 while this replica holds the lease.", registry=REGISTRY)


def observe_transition(previous: EnvStatus | None, new: EnvStatus) -> None:
    """Record the durations closed by a status change (called when a report is applied)."""
    old = previous.transitions if previous is not None else ()
    fresh = new.transitions[len(old) :] if new.transitions[: len(old)] == old else ()
    history = list(new.transitions)
    for phase, at in fresh:
        index = history.index((phase, at))
        if index > 0:
            left, since = history[index - 1]
            PHASE_SECONDS.labels(left.value).observe(_seconds(since, at))
        first_ready = not any(p is Phase.READY for p, _ in history[:index])
        if phase is Phase.READY and first_ready:
            TIME_TO_READY.observe(_seconds(history[0][1], at))


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
