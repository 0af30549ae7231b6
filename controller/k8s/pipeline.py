"""Pipelined application: a plan's per-environment groups run while the next cycle decides.

A cycle no longer waits for every write of its plan. Each environment's
group of actions is split at its last action whose effect *other*
environments' decisions read (admission tickets and warm-slot claims: the
quota, the concurrency cap and "a slot is never claimed twice" depend on
them); that prefix is written before the cycle ends, so the next plan sees
it. The rest of the group goes to a shared pool of writers and the cycle
returns; when a group finishes, its Blueprint key is queued again and the
core runs on what the cache now holds.

Expectations, as in controller-runtime: while an environment has a group in
flight (or is backing off after a failed one), the actions a newer plan
gives it are dropped, since the plan was made before those writes were
visible and would repeat them. The same holds for a group that finished
after the cycle took its snapshot (`mark`): that plan predates its writes
too, and the finish has already queued another look. This is bookkeeping of writes, not a
decision: what to do is still the core's, from the observed world.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from controller.core.actions import Action, Admit, ClaimWarmSlot, Plan
from controller.core.types import EnvKey
from controller.k8s.application import Application, group_actions
from controller.k8s.errors import KubeError

log = logging.getLogger("mayfly.pipeline")

#: actions whose effect other environments' plans depend on: written before the cycle ends
SHARED_EFFECT = (Admit, ClaimWarmSlot)


def split(actions: list[Action]) -> tuple[list[Action], list[Action]]:
    """(prefix to write now, rest to pipeline): the prefix ends at the last shared effect."""
    cut = 0
    for index, action in enumerate(actions):
        if isinstance(action, SHARED_EFFECT):
            cut = index + 1
    return actions[:cut], actions[cut:]


class Pipeline:
    """Writers shared by all cycles, with per-environment in-flight tracking and backoff."""

    def __init__(
        self,
        *,
        workers: int,
        on_done: Callable[[str, float], None],
        base_delay: float = 0.1,
        max_delay: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="write")
        self._lock = threading.Lock()
        self._busy: set[Hashable] = set()
        self._blocked: dict[Hashable, float] = {}  # env -> monotonic time its backoff ends
        self._failures: dict[Hashable, int] = {}
        self._finished: dict[Hashable, int] = {}  # env -> sequence number of its last finish
        self._seq = 0
        self.on_done, self.clock = on_done, clock
        self.base_delay, self.max_delay = base_delay, max_delay

    def busy(self, env: Hashable) -> bool:
        """True while `env` has writes in flight or backs off after a failure."""
        with self._lock:
            return env in self._busy or self._blocked.get(env, 0.0) > self.clock()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._busy)

    def mark(self) -> int:
        """Taken before a cycle reads the cache: what has finished so far."""
        with self._lock:
            return self._seq

    def claim(self, env: Hashable, mark: int) -> bool:
        """Mark `env` in flight for a plan made after `mark`; False: drop its actions.

        Refused while `env` is in flight or backing off, and when its last group
        finished after `mark` (the plan did not see those writes).
        """
        with self._lock:
            if env in self._busy or self._blocked.get(env, 0.0) > self.clock():
                return False
            if self._finished.get(env, -1) > mark:
                return False
            self._busy.add(env)
            return True

    def finish(
        self, blueprint: str, env: Hashable, error: KubeError | None, *, wrote: bool = True
    ) -> None:
        """`env`'s writes are over: back off on failure, then have the core look again.

        A group that wrote nothing (its object is gone) does not ask for another look:
        the same plan would come back at once.
        """
        delay = 0.0
        with self._lock:
            self._busy.discard(env)
            self._seq += 1
            self._finished[env] = self._seq
            if error is None:
                self._failures.pop(env, None)
                self._blocked.pop(env, None)
            else:
                failures = self._failures.get(env, 0)
                self._failures[env] = failures + 1
                delay = min(self.base_delay * 2**failures, self.max_delay)
                self._blocked[env] = self.clock() + delay
        if wrote or error is not None:
            self.on_done(blueprint, delay)

    def submit(
        self, blueprint: str, env: Hashable, run: Callable[[], tuple[KubeError | None, bool]]
    ) -> None:
        """Run `run` (an environment's remaining writes) on the pool; `env` is already claimed.

        `run` returns the group's error, if any, and whether it wrote anything.
        """

        def task() -> None:
            error: KubeError | None = None
            wrote = True
            try:
                error, wrote = run()
            except Exception as exc:  # a bug must not wedge the environment
                log.exception("event=group_crashed blueprint=%s", blueprint)
                error = KubeError(0, "Unexpected", type(exc).__name__)
            self.finish(blueprint, env, error, wrote=wrote)

        try:
            self._pool.submit(task)
        except RuntimeError:  # shut down: leadership or the process is ending
            with self._lock:
                self._busy.discard(env)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What `apply_pipelined` did with a plan."""

    claimed: tuple[EnvKey, ...]  # environments whose actions were taken up
    dropped: int  # environments whose actions were dropped (writes in flight)
    pool_errors: tuple[KubeError, ...]  # failures of the pool actions, written at once


def apply_pipelined(
    app: Application, plan: Plan, pipeline: Pipeline, *, blueprint: str, mark: int, workers: int
) -> Outcome:
    """Write shared effects and pool actions now (in parallel), submit the rest, return."""
    groups, pool = group_actions(plan)
    claimed = tuple(key for key in groups if pipeline.claim(key, mark))
    states = {key: app.env_state(key) for key in claimed}
    parts = {key: split(groups[key]) for key in claimed}
    urgent = [(key, parts[key][0]) for key in claimed if parts[key][0]]
    errors: dict[EnvKey, KubeError | None] = {}
    if urgent:
        with ThreadPoolExecutor(min(workers, len(urgent)), thread_name_prefix="apply") as ex:
            results = ex.map(lambda kv: app.run_group(kv[0], kv[1], states[kv[0]]), urgent)
            errors = dict(zip((k for k, _ in urgent), results, strict=True))
    pool_errors: list[KubeError] = []
    for action in pool:
        try:
            app.execute(action, None)
        except KubeError as exc:
            pool_errors.append(exc)

    def rest_of(key: EnvKey) -> tuple[KubeError | None, bool]:
        state = states[key]
        error = app.run_group(key, parts[key][1], state)
        return error, state.skipped < len(groups[key])

    for key in claimed:
        error = errors.get(key)
        if error is None and parts[key][1]:
            pipeline.submit(blueprint, key, functools.partial(rest_of, key))
        else:
            pipeline.finish(blueprint, key, error, wrote=states[key].skipped < len(groups[key]))
    return Outcome(claimed, len(groups) - len(claimed), tuple(pool_errors))
