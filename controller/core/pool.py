"""Warm-pool policy: which ready slot a new environment claims, what to warm, what to drain.

The pool keeps copy-on-write clones of the golden (anonymised) snapshot ready
ahead of demand, sized by the blueprint's hour-of-day schedule. When a newer
golden snapshot appears, fresh slots are warmed first (bounded by
`max_warming`) and stale unclaimed ones are drained as fresh ones become
ready, so the pool never empties during a refresh. Pure: slots in, decisions out.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import filterfalse, islice
from operator import attrgetter

from controller.core.actions import DrainSlots, ReplenishPool
from controller.core.blueprint import PoolSchedule
from controller.core.naming import slot_name
from controller.core.types import Slot, SlotState


def claimable(slots: Iterable[Slot]) -> list[Slot]:
    """Ready, unclaimed slots in claim order: newest generation first, then by id."""
    ready = [s for s in slots if s.state is SlotState.READY and s.claimed_by is None]
    ready.sort(key=lambda s: (-s.generation, s.id))
    return ready


@lru_cache(maxsize=64)
def _names(blueprint: str, generation: int) -> list[str]:
    """Slot names of one generation by index, grown on demand (a memo of `slot_name`)."""
    return []


def _free_names(blueprint: str, generation: int, count: int, taken: Container[str]) -> list[str]:
    """The `count` lowest-indexed slot names of the generation that are not taken."""
    names = _names(blueprint, generation)
    found = list(islice(filterfalse(taken.__contains__, names), count))  # a scan in C
    while len(found) < count:
        name = slot_name(blueprint, generation, len(names))
        names.append(name)
        if name not in taken:
            found.append(name)
    return found


_slot_id = attrgetter("id")


@dataclass(frozen=True, slots=True)
class PoolPlan:
    replenish: ReplenishPool | None
    drain: DrainSlots | None


def plan_pool(
    slots: Iterable[Slot],
    *,
    claimed_now: frozenset[str],
    golden_generation: int,
    schedule: PoolSchedule,
    hour_utc: int,
    blueprint: str,
    taken: Container[str] | None = None,
) -> PoolPlan:
    """Replenish toward the hour's target and drain stale or surplus slots.

    Only unclaimed slots matter, so `slots` may be just those, with `taken`
    (every slot id in use, claimed or not) to keep new names unique; without
    `taken` the ids of `slots` are the ones in use.
    """
    all_slots = list(slots)
    fresh_ready: list[Slot] = []
    stale_ready: list[Slot] = []
    drain: list[str] = []  # stale slots still warming, then surplus ready ones
    fresh = warming = 0
    for s in all_slots:  # the unclaimed ones, by freshness and state, in one pass
        if s.claimed_by is not None or s.id in claimed_now:
            continue
        state = s.state
        if state is SlotState.READY:
            if s.generation >= golden_generation:
                fresh += 1
                fresh_ready.append(s)
            else:
                stale_ready.append(s)
        elif state is SlotState.WARMING:
            if s.generation >= golden_generation:
                fresh += 1
                warming += 1
            else:
                drain.append(s.id)
    fresh_ready.sort(key=_slot_id)
    stale_ready.sort(key=_slot_id)
    target = schedule.size_at(hour_utc)

    surplus_stale = max(0, len(fresh_ready) + len(stale_ready) - target)
    drain += [s.id for s in stale_ready[:surplus_stale]]
    surplus_fresh = max(0, fresh - target)
    drain += [s.id for s in reversed(fresh_ready)][:surplus_fresh]

    create = max(0, min(target - fresh, schedule.max_warming - warming))
    if taken is None:
        taken = {s.id for s in all_slots} if create else set()
    new_ids = _free_names(blueprint, golden_generation, create, taken) if create else []
    return PoolPlan(
        replenish=ReplenishPool(tuple(new_ids), golden_generation) if new_ids else None,
        drain=DrainSlots(tuple(sorted(drain))) if drain else None,
    )
