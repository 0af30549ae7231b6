"""Status written and read back compares equal: reconciling again reports nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from controller.core.types import EnvStatus, Phase, Reason
from controller.k8s import pe

times = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(
    phase=st.sampled_from(list(Phase)),
    reason=st.sampled_from(list(Reason)),
    queue=st.none() | st.integers(min_value=0, max_value=500),
    history=st.lists(st.tuples(st.sampled_from(list(Phase)), times), max_size=8),
)
def test_status_round_trips(
    phase: Phase, reason: Reason, queue: int | None, history: list[tuple[Phase, datetime]]
) -> None:
    status = EnvStatus(
        phase=phase,
        reason=reason,
        message="waiting (position 3)",
        namespace="pr-1-shop-abcdef12",
        url="https://x.example",
        sha="a" * 40,
        queue_position=queue,
        transitions=tuple(history),
    )
    assert pe.status_of({"status": pe.status_body(status)}) == status


def test_ready_condition() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    body = pe.status_body(
        EnvStatus(Phase.READY, transitions=((Phase.PENDING, at), (Phase.READY, at + timedelta(1))))
    )
    assert body["conditions"][0]["status"] == "True"
    assert body["conditions"][0]["lastTransitionTime"] == "2026-01-02T00:00:00Z"
