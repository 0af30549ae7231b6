"""Warm-pool policy: replenish to the hour's target, drain stale and surplus slots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.core.blueprint import PoolSchedule
from controller.core.pool import claimable, plan_pool
from controller.core.types import EnvKey, Slot, SlotState

T = datetime(2026, 1, 5, 9, tzinfo=UTC)


def slot(i: int, gen: int = 1, state: SlotState = SlotState.READY, claimed: bool = False) -> Slot:
    return Slot(
        f"s{gen}-{i}",
        gen,
        SlotState.CLAIMED if claimed else state,
        T,
        EnvKey("a/b", i) if claimed else None,
    )


def plan(
    slots: list[Slot],
    *,
    target: int,
    gen: int = 1,
    warming: int = 10,
    claimed_now: frozenset[str] = frozenset(),
) -> tuple[int, set[str]]:
    result = plan_pool(
        slots,
        claimed_now=claimed_now,
        golden_generation=gen,
        schedule=PoolSchedule(default_size=target, max_warming=warming),
        hour_utc=9,
        blueprint="shop",
    )
    created = len(result.replenish.slot_ids) if result.replenish else 0
    drained = set(result.drain.slot_ids) if result.drain else set()
    return created, drained


@pytest.mark.parametrize(
    ("slots", "target", "gen", "warming", "created", "drained"),
    [
        pytest.param([], 4, 1, 10, 4, set(), id="fill-empty"),
        pytest.param([], 4, 1, 2, 2, set(), id="warming-bounded"),
        pytest.param(
            [slot(1), slot(2, claimed=True)], 2, 1, 10, 1, set(), id="claimed-do-not-count"
        ),
        pytest.param(
            [slot(1), slot(2), slot(3)], 1, 1, 10, 0, {"s1-3", "s1-2"}, id="surplus-drained"
        ),
        pytest.param([slot(1), slot(2)], 2, 2, 10, 2, set(), id="refresh-keeps-stale-meanwhile"),
        pytest.param(
            [slot(1), slot(2), slot(1, gen=2), slot(2, gen=2)],
            2,
            2,
            10,
            0,
            {"s1-1", "s1-2"},
            id="refresh-drains-once-fresh-ready",
        ),
        pytest.param(
            [slot(1, state=SlotState.WARMING)],
            1,
            2,
            10,
            1,
            {"s1-1"},
            id="stale-warming-drained-at-once",
        ),
    ],
)
def test_plan_pool(
    slots: list[Slot], target: int, gen: int, warming: int, created: int, drained: set[str]
) -> None:
    assert plan(slots, target=target, gen=gen, warming=warming) == (created, drained)


def test_claim_order_prefers_newest_generation() -> None:
    slots = [slot(1, gen=1), slot(2, gen=2), slot(3, state=SlotState.WARMING, gen=2)]
    assert [s.id for s in claimable(slots)] == ["s2-2", "s1-1"]


def test_slots_claimed_in_this_round_are_not_drained() -> None:
    _created, drained = plan([slot(1), slot(2)], target=1, claimed_now=frozenset({"s1-1"}))
    assert "s1-1" not in drained
