"""Grid parsing, task enumeration and sharding (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.grid import (
    GridError,
    Point,
    build_points,
    build_tasks,
    parse_int_list,
    parse_shard,
    shard,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            "0:40:4", (0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40), id="range-stop-inclusive"
        ),
        pytest.param("0:10:4", (0, 4, 8), id="range-stop-not-hit"),
        pytest.param("2:4", (2, 3, 4), id="range-step-1"),
        pytest.param("40,10,20,10", (10, 20, 40), id="list-sorted-unique"),
        pytest.param("8", (8,), id="single"),
    ],
)
def test_parse_int_list(spec: str, expected: tuple[int, ...]) -> None:
    assert parse_int_list(spec, name="pool-sizes") == expected


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("", id="empty"),
        pytest.param("a,b", id="not-int"),
        pytest.param("10:0:2", id="backwards"),
        pytest.param("0:10:0", id="zero-step"),
        pytest.param("1:2:3:4", id="too-many-parts"),
        pytest.param("-4,2", id="negative"),
    ],
)
def test_parse_int_list_rejects_with_a_hint(spec: str) -> None:
    with pytest.raises(GridError, match="--pool-sizes"):
        parse_int_list(spec, name="pool-sizes")


def test_points_and_overrides() -> None:
    points = build_points((0, 4), (10, 20), (None,))
    assert [p.key for p in points] == [
        "pool-0_conc-10_nodes-def",
        "pool-4_conc-10_nodes-def",
        "pool-0_conc-20_nodes-def",
        "pool-4_conc-20_nodes-def",
    ]
    assert Point(4, 10, 30).overrides() == {
        "pool.size": 4,
        "admission.max_concurrent_provisions": 10,
        "cluster.nodes": 30,
    }
    assert Point(4).overrides() == {"pool.size": 4}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [pytest.param("0/1", (0, 1), id="single"), pytest.param("3/4", (3, 4), id="last")],
)
def test_parse_shard(spec: str, expected: tuple[int, int]) -> None:
    assert parse_shard(spec) == expected


@pytest.mark.parametrize("spec", ["4/4", "-1/3", "1/0", "x/2", "1"])
def test_parse_shard_rejects(spec: str) -> None:
    with pytest.raises(GridError, match="--shard"):
        parse_shard(spec)


@given(
    pools=st.lists(st.integers(0, 60), min_size=1, max_size=6, unique=True),
    seeds=st.lists(st.integers(1, 9), min_size=1, max_size=4, unique=True),
    count=st.integers(1, 7),
)
def test_shards_partition_the_tasks(pools: list[int], seeds: list[int], count: int) -> None:
    tasks = build_tasks(build_points(pools), seeds)
    parts = [shard(tasks, index=i, count=count) for i in range(count)]
    flat = [t for part in parts for t in part]
    assert sorted(flat) == sorted(tasks)
    assert len(set(flat)) == len(tasks) == len(pools) * len(seeds)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
