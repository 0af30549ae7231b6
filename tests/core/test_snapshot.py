"""Snapshots of a changing mapping stay what they were, and equal a plain dict's copy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controller.core.snapshot import Snapshots

OPS = st.lists(
    st.tuples(st.sampled_from(["set", "pop", "snap"]), st.integers(0, 40), st.integers()),
    max_size=300,
)


@given(OPS)
def test_snapshots_equal_the_dict_they_were_taken_from(ops: list[tuple[str, int, int]]) -> None:
    live: Snapshots[int, int] = Snapshots(fold_at=4)
    model: dict[int, int] = {}
    taken = []
    for op, key, value in ops:
        if op == "set":
            live[key] = value
            model[key] = value
        elif op == "pop":
            live.pop(key)
            model.pop(key, None)
        else:
            taken.append((live.snapshot(), dict(model)))
        assert len(live) == len(model)
        assert all((k in live) == (k in model) for k in range(41))
    taken.append((live.snapshot(), dict(model)))
    for snap, expected in taken:  # earlier snapshots did not move with later changes
        assert dict(snap) == expected
        assert len(snap) == len(expected)
        assert sorted(snap.values()) == sorted(expected.values())
        for k in range(41):
            assert snap.get(k) == expected.get(k)
            assert (k in snap) == (k in expected)


def test_a_snapshot_is_the_same_object_until_the_next_change() -> None:
    live: Snapshots[str, int] = Snapshots()
    live["a"] = 1
    first = live.snapshot()
    assert live.snapshot() is first
    live["b"] = 2
    assert live.snapshot() is not first
    assert dict(first) == {"a": 1}
