"""Memory of quiet environments: those that needed no action, until their next deadline.

Reconcile is level-triggered over the whole world, so a shell that calls it on
every state change pays for every environment every time. An environment
whose inputs (its pull request, its observed state, the blueprint and the
policy, compared by identity) are unchanged since a call that planned nothing
for it, and whose earliest deadline (expiry, step timeout, retry) has not
come, needs nothing now either: this memo lets reconcile skip it. It changes
no result, only the cost; queued environments are never remembered, because
their status depends on everybody else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.core.blueprint import Blueprint
from controller.core.policy import Policy
from controller.core.types import EnvKey, ObservedEnvironment, PullRequest


@dataclass(frozen=True, slots=True)
class Quiet:
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
    """Quiet environments by key; entries hold their inputs, so identity checks are safe."""

    def __init__(self, *, limit: int = 200_000) -> None:
        self._entries: dict[EnvKey, Quiet] = {}
        self._limit = limit

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

    def remember(self, key: EnvKey, entry: Quiet) -> None:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[key] = entry

    def forget(self, key: EnvKey) -> None:
        self._entries.pop(key, None)


QUIET = QuietMemo()
