"""The sweep grid: parse knob ranges, enumerate (point, seed) tasks, split them into shards.

Pure: no simulation, no files. A `Point` is one setting of the knobs a platform
engineer can turn (warm-pool size, concurrent-provision cap, node count); a
`Task` is a point run with one seed. The enumeration order is deterministic so
that `--shard I/N` on any machine selects the same tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class GridError(ValueError):
    """A grid or shard specification the user typed is malformed (their input, not ours)."""


@dataclass(frozen=True, slots=True, order=True)
class Point:
    """One setting of the knobs; None leaves the simulation's own default."""

    pool_size: int
    concurrency: int | None = None
    nodes: int | None = None

    @property
    def key(self) -> str:
        """File-name-safe identifier, stable across runs and machines."""
        conc = "def" if self.concurrency is None else str(self.concurrency)
        nodes = "def" if self.nodes is None else str(self.nodes)
        return f"pool-{self.pool_size}_conc-{conc}_nodes-{nodes}"

    def overrides(self) -> dict[str, Any]:
        """Dotted `sim.params` overrides that realise this point."""
        out: dict[str, Any] = {"pool.size": self.pool_size}
        if self.concurrency is not None:
            out["admission.max_concurrent_provisions"] = self.concurrency
        if self.nodes is not None:
            out["cluster.nodes"] = self.nodes
        return out


@dataclass(frozen=True, slots=True, order=True)
class Task:
    """One simulation run: a point and a seed."""

    point: Point
    seed: int

    @property
    def key(self) -> str:
        return f"{self.point.key}_seed-{self.seed}"


def parse_int_list(spec: str, *, name: str) -> tuple[int, ...]:
    """`"0:40:4"` (start:stop:step, stop inclusive), `"10,20,40"`, or `"8"` to sorted ints."""
    text = spec.strip()
    if not text:
        raise GridError(f"--{name} is empty; give e.g. 0:40:4 or 10,20,40")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise GridError(f"--{name} {spec!r}: use START:STOP or START:STOP:STEP")
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step <= 0 or stop < start:
                raise GridError(f"--{name} {spec!r}: need STOP >= START and STEP > 0")
            values: Iterable[int] = range(start, stop + 1, step)
        else:
            values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError as exc:
        raise GridError(f"--{name} {spec!r}: not integers; give e.g. 0:40:4 or 10,20,40") from exc
    out = tuple(sorted(set(values)))
    if any(v < 0 for v in out):
        raise GridError(f"--{name} {spec!r}: values must be >= 0")
    return out


def build_points(
    pool_sizes: Sequence[int],
    concurrency: Sequence[int | None] = (None,),
    nodes: Sequence[int | None] = (None,),
) -> tuple[Point, ...]:
    """The full cartesian grid, in a fixed order."""
    return tuple(
        Point(pool_size=p, concurrency=c, nodes=n)
        for c in concurrency
        for n in nodes
        for p in pool_sizes
    )


def build_tasks(points: Sequence[Point], seeds: Sequence[int]) -> tuple[Task, ...]:
    """Every (point, seed) pair, point-major; duplicates removed, order kept."""
    seen: dict[Task, None] = {}
    for point in points:
        for seed in seeds:
            seen.setdefault(Task(point=point, seed=seed), None)
    return tuple(seen)


def parse_shard(spec: str) -> tuple[int, int]:
    """`"I/N"` with 0 <= I < N (I is the Kubernetes JOB_COMPLETION_INDEX, zero-based)."""
    try:
        index_text, count_text = spec.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError as exc:
        raise GridError(f"--shard {spec!r}: use I/N, e.g. 0/4") from exc
    if count < 1 or not 0 <= index < count:
        raise GridError(f"--shard {spec!r}: need N >= 1 and 0 <= I < N (I is zero-based)")
    return index, count


def shard(tasks: Sequence[Task], *, index: int, count: int) -> tuple[Task, ...]:
    """Round-robin subset: task k belongs to shard k mod count (balances cheap and dear points)."""
    return tuple(t for k, t in enumerate(tasks) if k % count == index)
