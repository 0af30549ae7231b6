"""Memory of quiet environments: those that needed no action, until their next deadline.

Reconcile is level-triggered over the whole world, so a shell that calls it on
every state change would pay for every environment every time. An environment
whose inputs (its pull request, its observed state, the blueprint and the
policy, compared by identity) are unchanged since a call that planned nothing
for it, and whose earliest deadline (expiry, step timeout, retry) has not
come, needs nothing now either: this memo lets reconcile skip it, and keeps
the sums quiet environments contribute to admission (live environments per
team, provisions in flight) so that a shell which says which keys changed
(as a controller's work queue does) gets a plan in time proportional to the
change, not to the world. It changes no result, only the cost; queued
environments are never remembered, because their status depends on everybody
else's (reconcile only keeps, in `waiting`, what their first pass found and the
status they report, to reuse while their inputs are the same objects). The
tests compare every plan with one computed from a fresh memo.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from controller.core.blueprint import Blueprint
from controller.core.policy import Policy
from controller.core.pool import PoolPlan
from controller.core.types import (
    DesiredState,
    EnvKey,
    ObservedEnvironment,
    ObservedIndex,
    ObservedState,
    PullRequest,
    Slot,
)

_HOUR = timedelta(hours=1)


class Quiet(NamedTuple):
    """What a quiet environment contributes to the global counts, and until when."""

    pr: PullRequest | None
    env: ObservedEnvironment
    blueprint: Blueprint
    policy: Policy
    since: datetime
    until: datetime | None
    team: str
    admitted: bool
    in_flight: bool


class QuietMemo:
    """Quiet environments by key, with their sums; entries hold their inputs (identity-safe)."""

    def __init__(self) -> None:
        self._entries: dict[EnvKey, Quiet] = {}
        self._deadlines: list[tuple[datetime, int, EnvKey]] = []
        self._seq: dict[EnvKey, int] = {}
        self._counter = 0
        self.live: Counter[str] = Counter()
        self.in_flight = 0
        self.unquiet: set[EnvKey] = set()
        # queued environments' first passes and statuses, by key (reconcile's `_Waiting`)
        self.waiting: dict[EnvKey, Any] = {}
        self.context: tuple[Blueprint, Policy] | None = None
        self._desired: DesiredState | None = None
        self._prs: Mapping[EnvKey, PullRequest] = {}
        self._slots: tuple[Slot, ...] | None = None
        self._claimable: list[Slot] = []
        self._pool_inputs: tuple[object, ...] | None = None
        self._pool_taken: object = None
        self._pool_plan: PoolPlan | None = None
        self._observed: ObservedState | None = None
        self._hour_end: datetime | None = None
        self._index: ObservedIndex | None = None

    def pool_view(
        self, unclaimed: tuple[Slot, ...], compute: Callable[[tuple[Slot, ...]], list[Slot]]
    ) -> list[Slot]:
        """Claimable slots, recomputed only when the unclaimed tuple object changes (a copy)."""
        if unclaimed is not self._slots:
            self._slots, self._claimable = unclaimed, compute(unclaimed)
        return list(self._claimable)

    def pool_plan(
        self, inputs: tuple[object, ...], taken: object, compute: Callable[[], PoolPlan]
    ) -> PoolPlan:
        """The pool plan, recomputed only when its inputs change (the slots by identity).

        `taken` (every slot id in use) matters only to a plan that names new
        slots, so it is compared only then.
        """
        plan = self._pool_plan
        same = inputs == self._pool_inputs and (  # a tuple compares items by identity first
            plan is None or plan.replenish is None or taken is self._pool_taken
        )
        if not same or self._pool_plan is None:
            self._pool_inputs, self._pool_taken, self._pool_plan = inputs, taken, compute()
        return self._pool_plan

    def next_hour(self, now: datetime) -> datetime:
        """The start of the hour after `now` (the pool schedule's next change), cached."""
        end = self._hour_end
        if end is None or not end - _HOUR <= now < end:
            end = self._hour_end = now.replace(minute=0, second=0, microsecond=0) + _HOUR
        return end

    def prs_of(self, desired: DesiredState) -> Mapping[EnvKey, PullRequest]:
        """The pull requests by key: the shell's index, or one built when `desired` changes."""
        if desired.index is not None:
            return desired.index
        if desired is not self._desired:
            self._desired = desired
            self._prs = {pr.key: pr for pr in desired.prs}
        return self._prs

    def index_of(self, observed: ObservedState) -> ObservedIndex:
        """The observed world by key: the observer's index, or one built when it changes."""
        if observed.index is not None:
            return observed.index
        if observed is not self._observed or self._index is None:
            self._observed = observed
            self._index = ObservedIndex.of(observed.environments, observed.slots)
        return self._index

    def lookup(
        self,
        key: EnvKey,
        pr: PullRequest | None,
        env: ObservedEnvironment,
        *,
        blueprint: Blueprint,
        policy: Policy,
        now: datetime,
    ) -> Quiet | None:
        entry = self._entries.get(key)
        if (
            entry is None
            or entry.pr is not pr
            or entry.env is not env
            or entry.blueprint is not blueprint
            or entry.policy is not policy
            or now < entry.since
            or (entry.until is not None and now >= entry.until)
        ):
            return None
        return entry

    def remembered(self) -> list[EnvKey]:
        return list(self._entries)

    def remember(self, key: EnvKey, entry: Quiet) -> None:
        self.forget(key)
        self._entries[key] = entry
        self.live[entry.team] += entry.admitted
        self.in_flight += entry.in_flight
        if entry.until is not None:
            self._counter += 1
            self._seq[key] = self._counter
            heapq.heappush(self._deadlines, (entry.until, self._counter, key))

    def forget(self, key: EnvKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.live[entry.team] -= entry.admitted
        if self.live[entry.team] == 0:
            del self.live[entry.team]
        self.in_flight -= entry.in_flight
        self._seq.pop(key, None)

    def forget_all(self, keys: set[EnvKey]) -> None:
        """`forget` each of `keys` (most are not remembered: looked up first)."""
        entries = self._entries
        for key in keys:
            if key in entries:
                self.forget(key)

    def due(self, now: datetime) -> set[EnvKey]:
        """Keys whose deadline has come (their quiet entry no longer holds)."""
        due: set[EnvKey] = set()
        while self._deadlines and self._deadlines[0][0] <= now:
            _until, seq, key = heapq.heappop(self._deadlines)
            if self._seq.get(key) == seq:
                due.add(key)
        return due

    def next_deadline(self) -> datetime | None:
        while self._deadlines:
            _until, seq, key = self._deadlines[0]
            if self._seq.get(key) == seq:
                return self._deadlines[0][0]
            heapq.heappop(self._deadlines)
        return None


QUIET = QuietMemo()
