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

import time
from datetime import datetime, timedelta
from functools import partial

import simpy

from controller.core import DesiredState, Policy, PRState, PullRequest, reconcile
from controller.core.actions import Action, Admit, ClaimWarmSlot, CreateNamespace, ReportStatus
from controller.core.blueprint import Blueprint
from controller.core.memo import QuietMemo
from controller.core.memory import ClusterError, InMemoryCluster
from controller.core.types import EnvKey, ObservedState, Phase
from sim.cluster import SimCluster
from sim.params import ClusterParams
from sim.records import Recorder
from sim.workload import PullRequestPlan


def revised(
    pr: PullRequest,
    *,
    updated_at: datetime,
    head_sha: str | None = None,
    draft: bool | None = None,
    state: PRState | None = None,
) -> PullRequest:
    """`dataclasses.replace(pr, ...)` for what a webhook event changes, at a third of its cost."""
    return PullRequest(
        repository=pr.repository,
        number=pr.number,
        head_sha=pr.head_sha if head_sha is None else head_sha,
        base_sha=pr.base_sha,
        team=pr.team,
        author=pr.author,
        opened_at=pr.opened_at,
        updated_at=updated_at,
        labels=pr.labels,
        draft=pr.draft if draft is None else draft,
        changed_paths=pr.changed_paths,
        state=pr.state if state is None else state,
    )


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
        self._now_s, self._now = 0.0, start
        self.sim_cluster: SimCluster | None = None
        self.prs: dict[EnvKey, PullRequest] = {}
        self.plans: dict[EnvKey, PullRequestPlan] = {}
        self._desired: DesiredState | None = None
        self.observed = ObservedState()
        self.up = True
        self._dirty = True
        self._busy = False  # a round is scheduled or its plan is being applied
        self._epoch = 0  # bumped by each crash and restart
        self._timer_at: float | None = None
        self._timers: set[float] = set()
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
        """The clock port: simulated time as a datetime (converted once per instant)."""
        t = self.env.now
        if t != self._now_s:
            self._now_s, self._now = t, self.start_at + timedelta(seconds=t)
        return self._now

    # -- state changes ---------------------------------------------------------------
    def mark_dirty(self) -> None:
        """Something changed: reconcile soon (once per instant)."""
        self._dirty = True
        self._schedule_round()

    def set_up(self, up: bool) -> None:
        """Controller process started (resumes from observed state) or crashed."""
        self.up = up
        self._epoch += 1  # a round or plan of the old process is abandoned
        self._busy = False
        if up:
            self.memo, self._full_scan = QuietMemo(), True  # a new process starts from a relist
            self.mark_dirty()

    def is_up(self) -> bool:
        return self.up

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
        self._put(revised(pr, head_sha=sha, updated_at=self.now()))

    def ready_for_review(self, plan: PullRequestPlan) -> None:
        key = EnvKey(plan.repository, plan.number)
        pr = self.prs.get(key)
        if pr is None or pr.state is not PRState.OPEN:
            return
        self._request(plan, key)
        self._put(revised(pr, draft=False, updated_at=self.now()))

    def closed(self, plan: PullRequestPlan) -> None:
        key = EnvKey(plan.repository, plan.number)
        pr = self.prs.get(key)
        if pr is None:
            return
        self.recorder.closed(key, t=self.env.now)
        state = PRState.MERGED if plan.merged else PRState.CLOSED
        self._put(revised(pr, state=state, updated_at=self.now()))

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
        self._put(revised(pr, state=PRState.OPEN, updated_at=when))

    # -- the controller -----------------------------------------------------------------
    def desired(self) -> DesiredState:
        if self._desired is None:
            index = dict(self.prs)  # a copy: the core may keep it until the next change
            self._desired = DesiredState(self.blueprint, tuple(index.values()), index)
        return self._desired

    def controller_loop(self) -> None:
        """Start reconciling: on every change and timer, each plan applied under the rate limit.

        Driven by callbacks rather than a SimPy process (one event per round
        instead of three): a change schedules one round at the end of the
        current instant, so every change of that instant lands first.
        """
        self.mark_dirty()

    def _schedule_round(self) -> None:
        if not self._busy and self._dirty and self.up:
            self._busy = True
            self.env.timeout(0).callbacks.append(partial(self._round, self._epoch))

    def _round(self, epoch: int, _event: object = None) -> None:
        if epoch != self._epoch:
            return  # planned by a process that has crashed since
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
            desired, self.observed, now=when, policy=self.policy, memo=self.memo, changed=changed
        )
        self.observe_seconds += tock - tick
        self.reconcile_seconds += time.perf_counter() - tock
        self.recorder.reconciled(prs=len(desired.prs), envs=len(self.observed.environments))
        self._arm_timer(plan.requeue_after)
        self._apply(plan.actions, 0, False, self._epoch)

    def _arm_timer(self, after: timedelta | None) -> None:
        """Reconcile again at `after` (the latest plan's), one SimPy event per distinct time."""
        if after is None:
            self._timer_at = None
            return
        at = self.env.now + max(after.total_seconds(), 0.0)
        self._timer_at = at
        if at not in self._timers:
            self._timers.add(at)
            self.env.timeout(at - self.env.now).callbacks.append(partial(self._on_timer, at))

    def _on_timer(self, at: float, _event: object = None) -> None:
        self._timers.discard(at)
        if self._timer_at == at:
            self.mark_dirty()

    def _apply(self, actions: tuple[Action, ...], i: int, writes: bool, epoch: int) -> None:
        """Apply actions[i:]; an action whose API token is not there yet waits for it."""
        if epoch != self._epoch:
            return  # crashed mid-plan: the rest is never applied
        while i < len(actions):
            action = actions[i]
            wait = self._take_token()
            if wait > 0:
                resume = partial(self._resume, actions, i, writes, epoch)
                self.env.timeout(wait).callbacks.append(resume)
                return
            writes |= not isinstance(action, ReportStatus)
            self.execute(action)
            i += 1
        self._busy = False
        if writes:
            self._dirty = True  # our own writes come back as watch events
        self._schedule_round()

    def _resume(
        self, actions: tuple[Action, ...], i: int, writes: bool, epoch: int, _event: object
    ) -> None:
        """After waiting for a token: apply action i (its token is taken), then the rest."""
        if epoch != self._epoch:
            return  # crashed while waiting: the rest is never applied
        writes |= not isinstance(actions[i], ReportStatus)
        self.execute(actions[i])
        self._apply(actions, i + 1, writes, epoch)

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
        return self.cluster.ready_slots()
