"""The write pipeline: split at shared effects, in-flight expectations, backoff, wake-ups."""

from __future__ import annotations

import threading

import pytest

from controller.core.actions import (
    Action,
    AddFinalizer,
    Admit,
    ClaimWarmSlot,
    CreateNamespace,
    RemoveFinalizer,
)
from controller.core.types import EnvKey
from controller.k8s.errors import KubeError
from controller.k8s.pipeline import Pipeline, split

K = EnvKey("acme/shop", 1)


@pytest.mark.parametrize(
    ("actions", "now"),
    [
        pytest.param([AddFinalizer(K), CreateNamespace(K, "ns", "t")], 0, id="no-shared-effect"),
        pytest.param(
            [AddFinalizer(K), Admit(K, "t"), CreateNamespace(K, "ns", "t")], 2, id="admission"
        ),
        pytest.param(
            [Admit(K, "t"), CreateNamespace(K, "ns", "t"), ClaimWarmSlot(K, "s1")], 3, id="claim"
        ),
        pytest.param([RemoveFinalizer(K)], 0, id="release-is-not-urgent"),
    ],
)
def test_split_at_last_shared_effect(actions: list[Action], now: int) -> None:
    first, rest = split(actions)
    assert first == actions[:now]
    assert rest == actions[now:]


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_expectations_and_backoff() -> None:
    clock = _Clock()
    woken: list[tuple[str, float]] = []
    pipe = Pipeline(workers=1, on_done=lambda bp, d: woken.append((bp, d)), clock=clock)
    mark = pipe.mark()
    assert pipe.claim(K, mark)
    assert not pipe.claim(K, mark)  # in flight: a newer plan's actions are dropped
    pipe.finish("bp", K, None)
    assert woken == [("bp", 0.0)]
    assert not pipe.claim(K, mark)  # finished after this plan's snapshot: plan is stale
    mark = pipe.mark()
    assert pipe.claim(K, mark)
    pipe.finish("bp", K, KubeError(500, "Boom", "x"))
    assert woken[-1] == ("bp", 0.1)
    assert pipe.busy(K)  # backing off
    assert not pipe.claim(K, pipe.mark())
    clock.t = 0.2
    assert pipe.claim(K, pipe.mark())
    pipe.finish("bp", K, None, wrote=False)
    assert len(woken) == 2  # wrote nothing: no wake-up loop
    pipe.shutdown()


def test_submit_runs_and_wakes() -> None:
    done = threading.Event()
    pipe = Pipeline(workers=2, on_done=lambda bp, d: done.set())
    assert pipe.claim(K, pipe.mark())
    pipe.submit("bp", K, lambda: (None, True))
    assert done.wait(5)
    assert not pipe.busy(K)
    pipe.shutdown()
