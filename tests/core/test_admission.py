"""Admission: priorities, per-team quotas, fair share and the global cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.admission import Candidate, decide
from controller.core.types import EnvKey, Reason

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def cand(n: int, team: str, *, priority: int = 0, age: int = 0) -> Candidate:
    return Candidate(EnvKey("acme/shop", n), team, priority, T0 + timedelta(seconds=age))


@pytest.mark.parametrize(
    ("candidates", "live", "cap", "quota", "admitted"),
    [
        pytest.param([cand(1, "a"), cand(2, "b")], {}, 5, 5, [1, 2], id="room-for-all"),
        pytest.param([cand(1, "a", age=2), cand(2, "a", age=1)], {}, 1, 5, [2], id="oldest-first"),
        pytest.param(
            [cand(1, "a"), cand(2, "b", priority=100, age=9)], {}, 1, 5, [2], id="hotfix-first"
        ),
        pytest.param(
            [cand(1, "a"), cand(2, "a", age=1), cand(3, "b", age=5)],
            {"a": 3},
            5,
            4,
            [3, 1],
            id="team-quota",
        ),
        pytest.param(
            [cand(i, "big", age=i) for i in range(1, 10)] + [cand(50, "small", age=99)],
            {"big": 0},
            2,
            20,
            [1, 50],
            id="fair-share-small-team-not-starved",
        ),
        pytest.param(
            [cand(1, "a", age=1), cand(2, "b", age=2)],
            {"a": 2, "b": 0},
            1,
            5,
            [2],
            id="fewest-live-first",
        ),
    ],
)
def test_decide(
    candidates: list[Candidate], live: dict[str, int], cap: int, quota: int, admitted: list[int]
) -> None:
    decision = decide(
        candidates, live_by_team=live, quota_of={}, default_quota=quota, in_flight=0, cap=cap
    )
    assert [k.number for k in decision.admitted] == admitted


def test_queue_positions_and_reasons() -> None:
    cands = [cand(1, "a"), cand(2, "a", age=1), cand(3, "a", age=2), cand(4, "b", age=3)]
    decision = decide(
        cands, live_by_team={}, quota_of={"a": 2}, default_quota=5, in_flight=0, cap=1
    )
    assert [k.number for k in decision.admitted] == [1]
    queued = {k.number: v for k, v in decision.queued.items()}
    assert queued[4] == (1, Reason.CONCURRENCY_CAP)
    assert queued[2] == (2, Reason.CONCURRENCY_CAP)
    assert queued[3] == (3, Reason.TEAM_QUOTA)


teams = st.sampled_from(["a", "b", "c", "d"])
candidates = st.lists(
    st.builds(
        cand,
        n=st.integers(1, 10_000),
        team=teams,
        priority=st.sampled_from([0, 100]),
        age=st.integers(0, 1000),
    ),
    max_size=40,
    unique_by=lambda c: c.key,
)


@given(
    candidates,
    st.dictionaries(teams, st.integers(0, 6)),
    st.integers(0, 10),
    st.integers(1, 10),
    st.integers(0, 6),
)
def test_decide_respects_cap_quota_and_fairness(
    cands: list[Candidate], live: dict[str, int], in_flight: int, cap: int, quota: int
) -> None:
    decision = decide(
        cands, live_by_team=live, quota_of={}, default_quota=quota, in_flight=in_flight, cap=cap
    )
    assert len(decision.admitted) <= max(0, cap - in_flight)
    by_key = {c.key: c for c in cands}
    after = dict(live)
    for key in decision.admitted:
        after[by_key[key].team] = after.get(by_key[key].team, 0) + 1
    for team, count in after.items():
        if count > live.get(team, 0):
            assert count <= quota
    assert set(decision.admitted).isdisjoint(decision.queued)
    assert set(decision.admitted) | set(decision.queued) == set(by_key)
    # fair share: a queued candidate blocked only by the cap never has strictly higher
    # priority, or equal priority and fewer live environments at decision time, than
    # an admitted one of another team
    for key, (_pos, reason) in decision.queued.items():
        if reason is not Reason.CONCURRENCY_CAP:
            continue
        waiting = by_key[key]
        for admitted in decision.admitted:
            winner = by_key[admitted]
            assert waiting.priority <= winner.priority or winner.team == waiting.team
