"""`prcodec.load` gives what `schema.decode` gives, or lets `decode` refuse; `dump` = `encode`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.schema import SchemaError, decode, encode
from controller.core.types import PullRequest
from controller.webhook import prcodec

GOOD: dict[str, Any] = {
    "repository": "acme/shop",
    "number": 12,
    "headSha": "ab" * 20,
    "baseSha": "cd" * 20,
    "team": "storefront",
    "author": "octocat",
    "openedAt": "2026-03-02T09:00:00Z",
    "updatedAt": "2026-03-02T09:05:00+00:00",
    "labels": ["hotfix"],
    "draft": False,
    "changedPaths": ["a.py", "services/orders/x.sql"],
    "state": "merged",
}


def _outcome(fn: Any, spec: dict[str, Any]) -> PullRequest | str:
    try:
        value: PullRequest = fn(spec)
    except SchemaError as exc:
        return str(exc)
    return value


def test_the_fast_path_knows_every_field() -> None:
    assert prcodec.FAST  # a field added to PullRequest turns it off: teach `prcodec` about it


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({}, id="valid"),
        pytest.param({"labels": [], "changedPaths": []}, id="empty-lists"),
        pytest.param({"draft": None}, id="draft-null"),
        pytest.param({"number": 0}, id="number-below-minimum"),
        pytest.param({"number": True}, id="number-bool"),
        pytest.param({"number": "12"}, id="number-string"),
        pytest.param({"headSha": "XYZ"}, id="sha-pattern"),
        pytest.param({"team": "Store Front"}, id="team-pattern"),
        pytest.param({"author": "x" * 40}, id="author-too-long"),
        pytest.param({"openedAt": "yesterday"}, id="bad-time"),
        pytest.param({"updatedAt": "2026-03-02T09:05:00"}, id="naive-time-is-utc"),
        pytest.param({"state": "reopened"}, id="unknown-state"),
        pytest.param({"labels": [1]}, id="label-not-string"),
        pytest.param({"changedPaths": "a.py"}, id="paths-not-list"),
        pytest.param({"surprise": 1}, id="unknown-field"),
        pytest.param({"repository": None}, id="missing-repository"),
    ],
)
def test_load_agrees_with_decode(change: dict[str, Any]) -> None:
    spec = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    expected = _outcome(lambda s: decode(PullRequest, s, what="spec"), spec)
    assert _outcome(lambda s: prcodec.load(s, what="spec"), spec) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "number": st.one_of(st.integers(-2, 10**6), st.booleans(), st.text(max_size=3)),
            "headSha": st.from_regex(r"[0-9a-fA-F]{0,70}", fullmatch=True),
            "team": st.from_regex(r"[a-z0-9-]{0,10}", fullmatch=True),
            "author": st.text(max_size=45),
            "updatedAt": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=5),
            "state": st.sampled_from(["open", "closed", "merged", "draft", ""]),
            "labels": st.lists(st.text(max_size=5) | st.integers(), max_size=3),
            "draft": st.booleans() | st.integers(0, 1),
        },
    )
)
def test_load_never_accepts_what_decode_refuses(change: dict[str, Any]) -> None:
    spec = {**GOOD, **change}
    expected = _outcome(lambda s: decode(PullRequest, s, what="spec"), spec)
    assert _outcome(lambda s: prcodec.load(s, what="spec"), spec) == expected


def test_dump_is_encode() -> None:
    pr = decode(PullRequest, GOOD)
    assert prcodec.dump(pr) == encode(pr)
