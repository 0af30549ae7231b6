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

from controller.core.actions import DrainSlots, ReplenishPool
from controller.core.blueprint import PoolSchedule
from controller.core.naming import slot_name
from controller.core.types import Slot, SlotState

_UNCLAIMED = (SlotState.WARMING, SlotState.READY)


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
    unclaimed = [
        s
        for s in all_slots
        if s.state in _UNCLAIMED and s.claimed_by is None and s.id not in claimed_now
    ]
    fresh = [s for s in unclaimed if s.generation >= golden_generation]
    stale = [s for s in unclaimed if s.generation < golden_generation]
    fresh_ready = sorted((s for s in fresh if s.state is SlotState.READY), key=lambda s: s.id)
    warming = sum(1 for s in unclaimed if s.state is SlotState.WARMING)
    target = schedule.size_at(hour_utc)

    drain: list[str] = [s.id for s in stale if s.state is SlotState.WARMING]
    stale_ready = sorted((s for s in stale if s.state is SlotState.READY), key=lambda s: s.id)
    surplus_stale = max(0, len(fresh_ready) + len(stale_ready) - target)
    drain += [s.id for s in stale_ready[:surplus_stale]]
    surplus_fresh = max(0, len(fresh) - target)
    drain += [s.id for s in reversed(fresh_ready)][:surplus_fresh]

    warming_after = warming - sum(1 for s in stale if s.state is SlotState.WARMING)
    create = max(0, min(target - len(fresh), schedule.max_warming - warming_after))
    if taken is None:
        taken = {s.id for s in all_slots} if create else set()
    new_ids = _free_names(blueprint, golden_generation, create, taken) if create else []
    return PoolPlan(
        replenish=ReplenishPool(tuple(new_ids), golden_generation) if new_ids else None,
        drain=DrainSlots(tuple(sorted(drain))) if drain else None,
    )
