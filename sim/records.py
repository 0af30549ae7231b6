"""Records of a run: one per environment episode, time-series samples, and the summary.

The recorder is told what happened (a request, an admission, a status the
core reported, an operation's outcome) and keeps flat records; `summarise`
turns them into the JSON summary. It observes only; it never acts on the
cluster or the desired state.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from controller.core.lifecycle import PROVISIONING
from controller.core.memory import Op, OpKind
from controller.core.types import EnvKey, EnvStatus, Phase, Step
from sim.cluster import OpListener

HOUR = 3600.0


@dataclass(slots=True)
class EnvRecord:
    """One environment: from the request that wanted it until it was gone."""

    repository: str
    number: int
    team: str
    author: str
    episode: int
    hour_of_day: int
    weekday: int
    requested_at_s: float
    had_migrations: bool
    hotfix: bool
    admitted_at_s: float | None = None
    ready_at_s: float | None = None
    queue_wait_s: float | None = None
    spinup_s: float | None = None
    masking_s: float | None = None
    claimed_warm_slot: bool = False
    failed_reason: str = ""
    failures: int = 0
    queued_reason: str = ""
    closed_at_s: float | None = None
    gone_at_s: float | None = None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class Recorder(OpListener):
    """Collects per-environment records and counters while the simulation runs."""

    def __init__(self, *, utc_offset_hours: int) -> None:
        self.offset = utc_offset_hours
        self.records: list[EnvRecord] = []
        self.open: dict[EnvKey, EnvRecord] = {}
        self.episodes: Counter[EnvKey] = Counter()
        self.phase: dict[EnvKey, Phase] = {}
        self.phase_count: Counter[Phase] = Counter()
        self.live: set[EnvKey] = set()
        self.peak_live = 0
        self.samples: list[dict[str, Any]] = []
        self.masking_runs: list[float] = []
        self.warmed = self.claims = self.clones = 0
        self.reconciles = 0
        self.desired_prs_total = 0
        self.observed_envs_total = 0
        self.actions = 0
        self.conflicts = 0

    # -- workload side -------------------------------------------------------------
    def requested(
        self, key: EnvKey, *, t: float, team: str, author: str, migrations: bool, hotfix: bool
    ) -> None:
        if key in self.open:
            return
        self.episodes[key] += 1
        hour = int(t // HOUR)
        rec = EnvRecord(
            repository=key.repository,
            number=key.number,
            team=team,
            author=author,
            episode=self.episodes[key],
            hour_of_day=hour % 24,
            weekday=(hour // 24) % 7,
            requested_at_s=t,
            had_migrations=migrations,
            hotfix=hotfix,
        )
        self.open[key] = rec
        self.records.append(rec)

    def closed(self, key: EnvKey, *, t: float) -> None:
        rec = self.open.get(key)
        if rec is not None and rec.closed_at_s is None:
            rec.closed_at_s = t

    # -- controller side -------------------------------------------------------------
    def admitted(self, key: EnvKey, *, t: float) -> None:
        rec = self.open.get(key)
        if rec is not None and rec.admitted_at_s is None:
            rec.admitted_at_s = t
            rec.queue_wait_s = t - rec.requested_at_s

    def reconciled(self, *, prs: int, envs: int) -> None:
        """One call of the core, with the sizes of its inputs."""
        self.reconciles += 1
        self.desired_prs_total += prs
        self.observed_envs_total += envs

    def namespace_created(self, key: EnvKey) -> None:
        self.live.add(key)
        self.peak_live = max(self.peak_live, len(self.live))

    def status(self, key: EnvKey, status: EnvStatus, *, t: float) -> None:
        old = self.phase.get(key)
        if old is not None:
            self.phase_count[old] -= 1
        self.phase[key] = status.phase
        self.phase_count[status.phase] += 1
        rec = self.open.get(key)
        if rec is None:
            return
        if status.phase is Phase.READY and rec.ready_at_s is None:
            rec.ready_at_s = t
            rec.spinup_s = t - rec.requested_at_s
        elif status.phase is Phase.QUEUED and not rec.queued_reason:
            rec.queued_reason = str(status.reason)
        elif status.phase is Phase.FAILED:
            rec.failed_reason = str(status.reason)
            rec.failures += 1
        elif status.phase is Phase.EXPIRED and rec.closed_at_s is None:
            rec.closed_at_s = t
        elif status.phase is Phase.GONE:
            if rec.closed_at_s is None:
                rec.closed_at_s = t
            rec.gone_at_s = t
            del self.open[key]

    def forget(self, key: EnvKey) -> None:
        """The PreviewEnvironment object was deleted."""
        old = self.phase.pop(key, None)
        if old is not None:
            self.phase_count[old] -= 1

    def op_finished(
        self, op: Op, *, started_s: float, finished_s: float, ok: bool, claim: bool
    ) -> None:
        if op.kind is OpKind.WARM:
            self.warmed += ok
        elif op.kind is OpKind.TEARDOWN and op.key is not None:
            self.live.discard(op.key)
        elif op.step is Step.VOLUME:
            self.claims += claim
            self.clones += not claim
        elif op.step is Step.MASKING and ok and op.key is not None:
            duration = finished_s - started_s
            self.masking_runs.append(duration)
            rec = self.open.get(op.key)
            if rec is not None and rec.masking_s is None:
                rec.masking_s = duration

    def claimed(self, key: EnvKey) -> None:
        rec = self.open.get(key)
        if rec is not None and rec.ready_at_s is None:
            rec.claimed_warm_slot = True

    def sample(self, *, t: float, pool_ready: int) -> None:
        in_flight = (
            sum(self.phase_count[p] for p in PROVISIONING) + self.phase_count[Phase.UPDATING]
        )
        self.samples.append(
            {
                "t_s": t,
                "concurrent_envs": len(self.live),
                "queue_depth": self.phase_count[Phase.QUEUED] + self.phase_count[Phase.PENDING],
                "pool_ready": pool_ready,
                "in_flight": in_flight,
            }
        )

    def rows(self) -> list[dict[str, Any]]:
        names = [f.name for f in fields(EnvRecord)]  # flat values: no deep copy as asdict does
        return [{name: getattr(r, name) for name in names} for r in self.records]
