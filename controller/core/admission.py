"""Admission: who gets a live environment now, and everybody else's place in the queue.

Rules, in order: higher priority (labels such as `hotfix`) first; among equal
priority, the team holding the fewest live environments first (fair share, so
a team with many pull requests cannot starve a team with few); then the
oldest request. A team at its quota waits; nobody is admitted past the global
cap on concurrent provisions. Pure: counts in, decisions out.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from controller.core.types import EnvKey, Reason


@dataclass(frozen=True, slots=True)
class Candidate:
    """A wanted environment without a ticket yet."""

    key: EnvKey
    team: str
    priority: int
    since: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """Admitted keys in order, and a (1-based position, reason) for everyone still queued."""

    admitted: tuple[EnvKey, ...]
    queued: Mapping[EnvKey, tuple[int, Reason]]


def _order(c: Candidate) -> tuple[int, datetime, EnvKey]:
    return (-c.priority, c.since, c.key)


_NOBODY = Decision((), MappingProxyType({}))


def decide(
    candidates: Collection[Candidate],
    *,
    live_by_team: Mapping[str, int],
    quota_of: Mapping[str, int],
    default_quota: int,
    in_flight: int,
    cap: int,
) -> Decision:
    """Admit greedily in fair order until quotas or the global cap stop it."""
    if not candidates:
        return _NOBODY
    by_team: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_team.setdefault(cand.team, []).append(cand)
    for queue in by_team.values():
        queue.sort(key=_order, reverse=True)  # pop() takes the best
    live = dict(live_by_team)
    heap: list[tuple[int, int, datetime, EnvKey, str]] = []

    def push(team: str) -> None:
        head = by_team[team][-1]
        heapq.heappush(heap, (-head.priority, live.get(team, 0), head.since, head.key, team))

    for team in by_team:
        push(team)
    admitted: list[EnvKey] = []
    order: list[tuple[EnvKey, Reason]] = []
    blocked: list[tuple[EnvKey, Reason]] = []
    room = cap - in_flight
    while heap:
        *_ignored, team = heapq.heappop(heap)
        queue = by_team[team]
        if live.get(team, 0) >= quota_of.get(team, default_quota):
            blocked.extend((c.key, Reason.TEAM_QUOTA) for c in reversed(queue))
            continue
        cand = queue.pop()
        if room > 0:
            admitted.append(cand.key)
            room -= 1
        else:
            order.append((cand.key, Reason.CONCURRENCY_CAP))
        live[team] = live.get(team, 0) + 1
        if queue:
            push(team)
    queued = {key: (i + 1, reason) for i, (key, reason) in enumerate(order + blocked)}
    return Decision(tuple(admitted), queued)
