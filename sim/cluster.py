"""The simulated cluster: asynchronous operations of the in-memory cluster, in SimPy time.

`controller.core.memory.InMemoryCluster` holds the cluster's state and applies
actions; this module gives each operation it starts a duration (sampled by
operation kind and step), a fault outcome (fail, hang, slow snapshot) and
node capacity (a deploy waits while every node is full, like Pending pods).
It decides nothing the core decides: no retries, no admission, no pool sizing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import NamedTuple

import simpy

from controller.core.actions import Action, ClaimWarmSlot, DeployServices
from controller.core.memory import InMemoryCluster, Op, OpKind
from controller.core.types import EnvKey, Reason, Step
from sim.dists import sample
from sim.params import ClusterParams, FaultParams

_FAILURE_REASON = {
    Step.VOLUME: Reason.CLONE_FAILED,
    Step.MIGRATIONS: Reason.MIGRATIONS_FAILED,
    Step.MASKING: Reason.MASKING_FAILED,
    Step.DEPLOY: Reason.DEPLOY_FAILED,
    Step.ROUTES: Reason.ROUTING_FAILED,
}


class _Run(NamedTuple):
    """One operation under way: drawn when it starts."""

    op: Op
    started: float
    duration: float
    outcome: str  # ok, fail or hang
    claim: bool


class OpListener:
    """Told when an operation finishes (the recorder implements it)."""

    def op_finished(
        self, op: Op, *, started_s: float, finished_s: float, ok: bool, claim: bool
    ) -> None:
        """Called after the cluster saw the outcome."""


class SimCluster:
    """Runs the operations of an `InMemoryCluster` as SimPy processes."""

    def __init__(
        self,
        env: simpy.Environment,
        cluster: InMemoryCluster,
        *,
        params: ClusterParams,
        faults: FaultParams,
        rng: random.Random,
        clock: Callable[[], datetime],
        on_change: Callable[[], None],
        listener: OpListener,
    ) -> None:
        self.env, self.cluster, self.params, self.faults = env, cluster, params, faults
        self.rng, self.clock, self.on_change, self.listener = rng, clock, on_change, listener
        self.capacity = params.nodes * params.envs_per_node
        self.placed: set[EnvKey] = set()
        self.waiting: deque[tuple[EnvKey, simpy.Event]] = deque()
        self.capacity_waits: list[float] = []
        self.hung = 0
        self.capacity_blocked = 0  # deploys that found every node full
        self._failure_rate = {  # by step (a claimed slot never fails: see _outcome)
            Step.VOLUME: faults.clone_failure_rate,
            Step.MIGRATIONS: faults.migrations_failure_rate,
            Step.MASKING: faults.masking_failure_rate,
            Step.DEPLOY: faults.deploy_failure_rate,
        }

    def start(self, op: Op, action: Action) -> None:
        """Begin an operation the cluster just started for `action`.

        Callbacks on one timeout rather than a SimPy process per operation
        (one event instead of three); a deploy that finds every node full waits
        for a place first, like a Pending pod.
        """
        claim = isinstance(action, ClaimWarmSlot)
        duration = self._duration(op, action)
        outcome = self._outcome(op, claim=claim)
        run = _Run(op, self.env.now, duration, outcome, claim)
        if op.step is Step.DEPLOY and op.key is not None and op.key not in self.placed:
            if len(self.placed) >= self.capacity:
                wake = self.env.event()
                wake.callbacks.append(partial(self._placed, run))
                self.waiting.append((op.key, wake))
                self.capacity_blocked += 1
                return
            self.placed.add(op.key)
        self.env.timeout(duration).callbacks.append(partial(self._finish, run))

    def _placed(self, run: _Run, _event: object) -> None:
        """A Pending deploy got a place (or was torn down meanwhile)."""
        op = run.op
        self.capacity_waits.append(self.env.now - run.started)
        if all(o.id != op.id for o in self.cluster.pending()):
            assert op.key is not None
            self._release(op.key)  # torn down while Pending: give the place on
            return
        self.env.timeout(run.duration).callbacks.append(partial(self._finish, run))

    def _finish(self, run: _Run, _event: object) -> None:
        """The operation's time is up: report its outcome to the cluster."""
        op, outcome = run.op, run.outcome
        if outcome == "hang":
            self.hung += 1
            return  # the core's step timeout notices it
        self.cluster.now = self.clock()
        try:
            if op.kind is OpKind.STEP and op.step is not None:
                reason = Reason.NONE if outcome == "ok" else _FAILURE_REASON[op.step]
                self.cluster.complete(op.id, ok=outcome == "ok", reason=reason)
            else:
                self.cluster.complete(op.id, ok=outcome == "ok")
        except KeyError:
            return  # cancelled meanwhile (teardown or drain): nothing to report
        if op.kind is OpKind.TEARDOWN and op.key is not None:
            self._release(op.key)
        self.listener.op_finished(
            op, started_s=run.started, finished_s=self.env.now, ok=outcome == "ok", claim=run.claim
        )
        self.on_change()

    def _duration(self, op: Op, action: Action) -> float:
        p, f, rng = self.params, self.faults, self.rng
        if op.kind is OpKind.TEARDOWN:
            return sample(p.teardown, rng)
        if op.kind is OpKind.WARM:
            slow = f.slow_snapshot_factor if rng.random() < f.slow_snapshot_rate else 1.0
            return sample(p.warm, rng) * slow
        if op.step is Step.VOLUME:
            if isinstance(action, ClaimWarmSlot):
                return sample(p.claim, rng)
            slow = f.slow_snapshot_factor if rng.random() < f.slow_snapshot_rate else 1.0
            return sample(p.clone, rng) * slow
        if op.step is Step.MIGRATIONS:
            return sum(sample(p.migrations, rng) for _ in op.databases or ("db",))
        if op.step is Step.MASKING:
            rows = sum(sample(p.masking_rows, rng) for _ in op.databases or ("db",))
            return rows / p.masking_rows_per_s
        if op.step is Step.DEPLOY:
            services = action.services if isinstance(action, DeployServices) else ()
            start = sample(p.pod_start, rng)  # pods start in parallel
            cold = 1.0 - (1.0 - p.uncached_image_fraction) ** max(len(services), 1)
            if p.uncached_image_fraction and rng.random() < cold:
                start += sample(p.image_pull, rng)
            return start
        return sample(p.routes, rng)

    def _outcome(self, op: Op, *, claim: bool) -> str:
        f, rng = self.faults, self.rng
        if op.kind is OpKind.TEARDOWN:
            return "ok"
        if f.hang_rate and op.kind is OpKind.STEP and rng.random() < f.hang_rate:
            return "hang"
        if op.kind is OpKind.STEP and op.step is not None:
            rate = 0.0 if claim and op.step is Step.VOLUME else self._failure_rate.get(op.step, 0.0)
        else:
            rate = f.clone_failure_rate
        return "fail" if rate and rng.random() < rate else "ok"

    def _release(self, key: EnvKey) -> None:
        """A torn-down environment frees its place; Pending deploys get it in order."""
        self.placed.discard(key)
        while self.waiting and len(self.placed) < self.capacity:
            waiter, wake = self.waiting.popleft()
            if waiter in self.placed:
                continue
            self.placed.add(waiter)
            wake.succeed()
