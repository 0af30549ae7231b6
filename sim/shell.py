"""The simulation's controller shell: webhook intake, the reconcile loop, the executor.

It plays the parts the Kubernetes shell plays in production and nothing
more: pull-request events become `PullRequest` values (the webhook), the
loop calls the real `controller.core.reconcile` on every state change and on
`requeue_after` (coalescing changes of the same instant), and each planned
action is applied to the `InMemoryCluster` under an API rate limit, its
operations handed to `SimCluster`. While the controller is down nothing is
reconciled; on restart it resumes from the observed state. No decisions here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import simpy

from controller.core import DesiredState, Policy, PRState, PullRequest, reconcile
from controller.core.actions import Action, Admit, ClaimWarmSlot, CreateNamespace, ReportStatus
from controller.core.blueprint import Blueprint
from controller.core.memo import QuietMemo
from controller.core.memory import ClusterError, InMemoryCluster
from controller.core.types import EnvKey, ObservedState, Phase, SlotState
from sim.cluster import SimCluster
from sim.params import ClusterParams
from sim.records import Recorder
from sim.workload import PullRequestPlan

Proc = Generator[simpy.Event, Any, None]


class ControllerShell:
    """Webhook plus controller, in simulated time, around the real core."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        blueprint: Blueprint,
        policy: Policy,
        cluster: InMemoryCluster,
        params: ClusterParams,
        recorder: Recorder,
        start: datetime,
    ) -> None:
        self.env, self.blueprint, self.policy, self.cluster = env, blueprint, policy, cluster
        self.params, self.recorder, self.start_at = params, recorder, start
        self.sim_cluster: SimCluster | None = None
        self.prs: dict[EnvKey, PullRequest] = {}
        self.plans: dict[EnvKey, PullRequestPlan] = {}
        self._desired: DesiredState | None = None
        self.observed = ObservedState()
        self.up = True
        self._dirty = True
        self._wake = env.event()
        self._timer_token = 0
        self._tokens = float(params.api_burst)
        self._tokens_at = 0.0
        self.memo = QuietMemo()  # the controller process's memory; lost on a crash
        self._changed_prs: set[EnvKey] = set()
        self._full_scan = True
        # seconds inside the core and the observer (perf_counter: reading a CPU clock
        # costs a system call, which on this machine's VM was dearer than a reconcile)
        self.reconcile_seconds = 0.0
        self.observe_seconds = 0.0

    def now(self) -> datetime:
        """The clock port: simulated time as a datetime."""
        return self.start_at + timedelta(seconds=self.env.now)

    # -- state changes ---------------------------------------------------------------
    def mark_dirty(self) -> None:
        """Something changed: reconcile soon (once per instant)."""
        self._dirty = True
        if not self._wake.triggered:
            self._wake.succeed()

    def set_up(self, up: bool) -> None:
        """Controller process started (resumes from observed state) or crashed."""
        self.up = up
        if up:
            self.memo, self._full_scan = QuietMemo(), True  # a new process starts from a relist
            self.mark_dirty()

    def is_up(self) -> bool:
        return self.up

    def _on_timer(self, token: int, _event: object = None) -> None:
        if token == self._timer_token:
            self.mark_dirty()

    # -- the webhook: pull-request events -------------------------------------------------
    def _put(self, pr: PullRequest) -> None:
        self.prs[pr.key] = pr
        self._changed_prs.add(pr.key)
        self._desired = None
        self.mark_dirty()

    def _request(self, plan: PullRequestPlan, key: EnvKey) -> None:
        self.recorder.requested(
            key,
            t=self.env.now,
            team=plan.team,
            author=plan.author,
            migrations=plan.had_migrations,
            hotfix=bool(plan.labels),
        )

    def opened(self, plan: PullRequestPlan) -> None:
        when = self.now()
        sha = f"{plan.serial:08x}0000"
        pr = PullRequest(
            repository=plan.repository,
            number=plan.number,
            head_sha=sha,
            base_sha="0" * 12,
            team=plan.team,
            author=plan.author,
            opened_at=when,
            updated_at=when,
            labels=plan.labels,
            draft=plan.draft,
            changed_paths=plan.changed_paths,
        )
        self.plans[pr.key] = plan
        self.cluster.now = when
        self.cluster.touch(pr.key, team=plan.team)
        if not plan.draft:
            self._request(plan, pr.key)
        self._put(pr)

    def pushed(self, plan: PullRequestPlan, push: int) -> None:
        key = EnvKey(plan.repository, plan.number)
        pr = self.prs.get(key)
        if pr is None or pr.state is not PRState.OPEN:
            return
        if not pr.draft:
            self._request(plan, key)  # no-op while an environment episode is open
        sha = f"{plan.serial:08x}{push:04x}"
        self._put(dataclasses.replace(pr, head_sha=sha, updated_at=self.now()))

    def ready_for_review(self, plan: PullRequestPlan) -> None:
        key = EnvKey(plan.repository, plan.number)
        pr = self.prs.get(key)
        if pr is None or pr.state is not PRState.OPEN:
            return
        self._request(plan, key)
        self._put(dataclasses.replace(pr, draft=False, updated_at=self.now()))

    def closed(self, plan: PullRequestPlan) -> None:
        key = EnvKey(plan.repository, plan.number)
        pr = self.prs.get(key)
        if pr is None:
            return
        self.recorder.closed(key, t=self.env.now)
        state = PRState.MERGED if plan.merged else PRState.CLOSED
        self._put(dataclasses.replace(pr, state=state, updated_at=self.now()))

    def reopened(self, plan: PullRequestPlan) -> None:
        key = EnvKey(plan.repository, plan.number)
        pr = self.prs.get(key)
        when = self.now()
        self.cluster.now = when
        self.cluster.touch(key, team=plan.team)
        if pr is None:
            self.opened(plan)
            return
        if not pr.draft:
            self._request(plan, key)
        self._put(dataclasses.replace(pr, state=PRState.OPEN, updated_at=when))

    # -- the controller -----------------------------------------------------------------
    def desired(self) -> DesiredState:
        if self._desired is None:
            prs = tuple(self.prs[k] for k in sorted(self.prs))
            self._desired = DesiredState(self.blueprint, prs)
        return self._desired

    def controller_loop(self) -> Proc:
        """Reconcile on every change and timer; apply each plan under the API rate limit."""
        while True:
            while not (self._dirty and self.is_up()):
                self._wake = self.env.event()
                yield self._wake
            yield self.env.timeout(0)  # let every change of this instant land first
            if not self.is_up():
                continue
            self._dirty = False
            when = self.now()
            tick = time.perf_counter()
            self.observed = self.observe()
            tock = time.perf_counter()
            desired = self.desired()
            # the work queue's keys: what the watches reported since the last round
            changes = self.cluster.take_changes() | self._changed_prs
            self._changed_prs = set()
            changed = None if self._full_scan else changes
            self._full_scan = False
            plan = reconcile(
                desired,
                self.observed,
                now=when,
                policy=self.policy,
                memo=self.memo,
                changed=changed,
            )
            self.observe_seconds += tock - tick
            self.reconcile_seconds += time.perf_counter() - tock
            self.recorder.reconciled(prs=len(desired.prs), envs=len(self.observed.environments))
            self._timer_token += 1
            if plan.requeue_after is not None:
                token = self._timer_token
                timer = self.env.timeout(max(plan.requeue_after.total_seconds(), 0.0))
                timer.callbacks.append(partial(self._on_timer, token))
            writes = False
            for action in plan.actions:
                wait = self._take_token()
                if wait > 0:
                    yield self.env.timeout(wait)
                if not self.is_up():
                    break  # crashed mid-plan: the rest is never applied
                writes |= not isinstance(action, ReportStatus)
                self.execute(action)
            if writes:
                self.mark_dirty()  # our own writes come back as watch events

    def _take_token(self) -> float:
        """Token bucket of the API client: seconds to wait before the next write."""
        now = self.env.now
        qps = self.params.api_qps
        self._tokens = min(
            float(self.params.api_burst), self._tokens + (now - self._tokens_at) * qps
        )
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        wait = (1.0 - self._tokens) / qps
        self._tokens = 0.0
        self._tokens_at = now + wait
        return wait

    def observe(self) -> ObservedState:
        """The observer port: the world as the core sees it."""
        return self.cluster.observe()

    def execute(self, action: Action) -> None:
        """The executor port: apply one action, start its operations, record it."""
        t = self.env.now
        self.cluster.now = self.now()
        self.recorder.actions += 1
        try:
            ops = self.cluster.apply(action)
        except ClusterError:
            self.recorder.conflicts += 1  # a 409 in production: the next round re-plans
            self.mark_dirty()
            return
        assert self.sim_cluster is not None
        for op in ops:
            self.sim_cluster.start(op, action)
        if isinstance(action, Admit):
            self.recorder.admitted(action.key, t=t)
        elif isinstance(action, ClaimWarmSlot):
            self.recorder.claimed(action.key)
        elif isinstance(action, CreateNamespace):
            self.recorder.namespace_created(action.key)
        elif isinstance(action, ReportStatus):
            self.recorder.status(action.key, action.status, t=t)
            pr = self.prs.get(action.key)
            if (
                action.status.phase is Phase.GONE
                and pr is not None
                and pr.state is not PRState.OPEN
            ):
                self._collect(action.key)

    def _collect(self, key: EnvKey) -> None:
        """A closed PR's environment is gone: the webhook deletes its PreviewEnvironment."""
        del self.prs[key]
        self._changed_prs.add(key)
        self._desired = None
        self.cluster.request_deletion(key)
        self.recorder.forget(key)

    def pool_ready(self) -> int:
        return sum(
            1 for s in self.observed.slots if s.state is SlotState.READY and s.claimed_by is None
        )
