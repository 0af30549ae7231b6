"""Work-queue semantics: dedup, no concurrent processing of a key, delays, per-key backoff."""

from __future__ import annotations

from controller.k8s.workqueue import WorkQueue


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_dedup_and_dirty_requeue() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("a")
    assert len(q) == 1
    assert q.get(timeout=0) == "a"
    q.add("a")  # while processing: marked dirty, not handed out
    assert q.get(timeout=0) is None
    q.done("a")
    assert q.get(timeout=0) == "a"


def test_delays_and_rate_limits() -> None:
    clock = Clock()
    q = WorkQueue(base_delay=1.0, max_delay=4.0, clock=clock)
    assert [q.add_rate_limited("k") for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    q.forget("k")
    assert q.failures("k") == 0
    q.add_after("b", 5)
    assert q.get(timeout=0) is None
    clock.t = 5.0
    assert q.get(timeout=0) in {"k", "b"}
