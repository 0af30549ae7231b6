"""The ledger fold and the consistency check, table-driven over small histories."""

from __future__ import annotations

from typing import Any

import pytest

from loadtests import consistency, ledger

R = "acme/shop"


def entry(number: int, sha: str, *, action: str = "opened", kind: str = "genuine",
          status: int | None = None, delivery: str = "") -> ledger.Entry:  # fmt: skip
    if status is None:
        status = 401 if kind == "forged" else 200
    return ledger.Entry(
        t=0.0, delivery=delivery or f"{number}-{sha}-{action}", kind=kind, action=action,
        repository=R, number=number, head_sha=sha, status=status, result="applied",
        latency_ms=1.0, expect=401 if kind == "forged" else 200,
    )  # fmt: skip


def env(number: int, sha: str, *, state: str = "open", deliveries: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": f"pr-{number}", "annotations": {"mayfly.dev/deliveries": deliveries}},
        "spec": {"repository": R, "number": number, "headSha": sha, "state": state},
    }


OPEN_PUSH = [entry(1, "a"), entry(1, "b", action="synchronize")]


@pytest.mark.parametrize(
    ("entries", "envs", "problems"),
    [
        pytest.param(OPEN_PUSH, [env(1, "b", deliveries="1-a-opened,1-b-synchronize")], {},
                     id="consistent"),
        pytest.param(OPEN_PUSH, [], {"lost": 1}, id="lost"),
        pytest.param(OPEN_PUSH, [env(1, "a", deliveries="1-a-opened")],
                     {"stale_head": 1, "delivery_unrecorded": 1}, id="stale-head"),
        pytest.param(OPEN_PUSH, [env(1, "b", deliveries="1-b-synchronize")] * 2,
                     {"duplicated": 1}, id="duplicated"),
        pytest.param([*OPEN_PUSH, entry(1, "b", action="closed")],
                     [env(1, "b", deliveries="1-b-closed")], {"not_closed": 1}, id="not-closed"),
        pytest.param([entry(9, "f", kind="forged")], [env(9, "f")],
                     {"forged_left_object": 1, "forged_head": 1}, id="forged-left-object"),
        pytest.param([entry(1, "a"), entry(1, "f", kind="forged", action="synchronize")],
                     [env(1, "f", deliveries="1-a-opened")],
                     {"stale_head": 1, "forged_head": 1}, id="forged-push-applied"),
        pytest.param([entry(9, "f", kind="forged", status=200)], [],
                     {"forged_accepted": 1}, id="forged-accepted"),
        pytest.param([], [env(5, "x")], {"phantom": 1}, id="phantom"),
        pytest.param([entry(1, "a", status=0)], [], {}, id="uncertain-may-be-missing"),
        pytest.param([entry(1, "a"), entry(1, "b", action="synchronize", status=503)],
                     [env(1, "b", deliveries="1-a-opened")], {}, id="uncertain-may-apply"),
        pytest.param([entry(1, "a", status=400)], [], {"genuine_refused": 1}, id="refused"),
    ],
)  # fmt: skip
def test_check(
    entries: list[ledger.Entry], envs: list[dict[str, Any]], problems: dict[str, int]
) -> None:
    report = consistency.check(ledger.fold(entries), envs)
    assert report.counts() == problems
    assert report.ok is (not problems)


def test_ledger_round_trip(tmp_path: Any) -> None:
    w = ledger.Writer(tmp_path)
    for e in OPEN_PUSH:
        w.write(e)
    w.close()
    assert ledger.read(tmp_path) == OPEN_PUSH
