"""The ordering rules: duplicates, stale events, no resurrection, no head rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.types import PRState
from controller.webhook import events
from controller.webhook.payload import pull_request_payload

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40


def ev(
    action: str, *, sha: str = SHA_A, at: datetime = T0, delivery: str = "", **kw: object
) -> events.Event:
    state = "closed" if action == "closed" else "open"
    payload = pull_request_payload(
        action=action,
        repository="acme/shop",
        number=7,
        head_sha=sha,
        created_at=T0,
        updated_at=at,
        state=state,
        changed_paths=("services/web/x.py",),
        **kw,  # type: ignore[arg-type]
    )
    return events.parse(payload, delivery=delivery or f"{action}-{sha[:1]}-{at}", team="web")


def stored(e: events.Event) -> events.Stored:
    return events.Stored(e.pr, e.pr.updated_at, (e.delivery,))


@pytest.mark.parametrize(
    ("first", "second", "verdict"),
    [
        pytest.param(ev("opened"), ev("opened"), events.Verdict.DUPLICATE, id="redelivery"),
        pytest.param(
            ev("closed", at=T0 + timedelta(minutes=5)),
            ev("opened"),
            events.Verdict.STALE,
            id="closed-before-opened",
        ),
        pytest.param(
            ev("synchronize", sha=SHA_C, at=T0 + timedelta(minutes=2)),
            ev("synchronize", sha=SHA_B, at=T0 + timedelta(minutes=1)),
            events.Verdict.STALE,
            id="older-synchronize-after-newer",
        ),
        pytest.param(
            ev("closed"),
            ev("labeled", delivery="other"),
            events.Verdict.STALE,
            id="tie-never-reopens",
        ),
        pytest.param(
            ev("opened"),
            ev("synchronize", sha=SHA_B, before=SHA_A),
            events.Verdict.APPLY,
            id="tie-synchronize-from-stored-head",
        ),
        pytest.param(
            ev("synchronize", sha=SHA_B, before=SHA_A),
            ev("opened", delivery="late-opened"),
            events.Verdict.STALE,
            id="tie-other-head-is-stale",
        ),
        pytest.param(
            ev("closed"),
            ev("reopened", at=T0 + timedelta(minutes=1)),
            events.Verdict.APPLY,
            id="newer-reopen",
        ),
    ],
)
def test_decide(first: events.Event, second: events.Event, verdict: events.Verdict) -> None:
    assert events.decide(stored(first), second) is verdict


def test_parse_reads_state_and_merge() -> None:
    payload = pull_request_payload(
        action="closed",
        repository="acme/shop",
        number=3,
        head_sha=SHA_A,
        state="closed",
        merged=True,
    )
    assert events.parse(payload, delivery="d", team="web").pr.state is PRState.MERGED


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda p: p.pop("pull_request"), "pull_request", id="no-pr"),
        pytest.param(lambda p: p["pull_request"]["head"].pop("sha"), "head.sha", id="no-sha"),
        pytest.param(
            lambda p: p["pull_request"].__setitem__("number", "7"), "number", id="number-type"
        ),
        pytest.param(
            lambda p: p["pull_request"]["head"].__setitem__("sha", "zz"), "headSha", id="bad-sha"
        ),
    ],
)
def test_parse_rejects_bad_payloads(mutate: object, message: str) -> None:
    payload = pull_request_payload(action="opened", repository="a/b", number=7, head_sha=SHA_A)
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(events.PayloadError, match=message):
        events.parse(payload, delivery="d", team="web")


@settings(deadline=None)  # a shared CI machine can stall any example past the default 200 ms
@given(st.permutations(list(range(6))), st.booleans())
def test_any_delivery_order_ends_at_the_newest_event(order: list[int], close_last: bool) -> None:
    """Applying a push history in any order (with redeliveries) converges to the newest event."""
    shas = [f"{i:x}" * 40 for i in range(1, 7)]
    history = [ev("opened", sha=shas[0])] + [
        ev("synchronize", sha=shas[i], at=T0 + timedelta(minutes=i), before=shas[i - 1])
        for i in range(1, 6)
    ]
    if close_last:
        history[-1] = ev("closed", sha=shas[4], at=T0 + timedelta(minutes=5))
    current: events.Stored | None = None
    for index in order + order[:2]:  # every event, plus two redeliveries
        e = history[index]
        if events.decide(current, e) is events.Verdict.APPLY:
            current = events.Stored(
                events.merged_spec(current, e),
                e.pr.updated_at,
                events.remember(current, e.delivery),
            )
    assert current is not None
    newest = history[-1].pr
    assert (current.pr.head_sha, current.pr.state) == (newest.head_sha, newest.state)
