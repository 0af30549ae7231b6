"""Deliveries as the webhook sees them: signatures, payload shape, ordering of one PR's events."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime

import orjson
import pytest

from controller.webhook import events, signature
from loadtests import payloads, signing
from loadtests.developer import Developer
from loadtests.fleet import load_fleet

SECRET = b"load-test-secret"


def developer(seed: int = 1) -> Developer:
    return Developer(
        load_fleet(),
        secret=SECRET,
        rng=random.Random(seed),
        numbers=itertools.count(1),
        forged_numbers=itertools.count(500_000),
    )


@pytest.mark.parametrize("kind", list(signing.Forgery), ids=lambda k: k.value)
def test_every_forgery_fails_the_webhooks_verification(kind: signing.Forgery) -> None:
    body = b'{"action":"opened"}'
    sent, headers = signing.forged_headers(SECRET, body, delivery="d", kind=kind)
    assert not signature.verify(SECRET, sent, headers.get("X-Hub-Signature-256"))


def test_genuine_signature_is_what_the_webhook_computes() -> None:
    body = b'{"x": 1}'
    assert signing.sign(SECRET, body) == signature.sign(SECRET, body)


def test_payloads_parse_and_are_github_sized() -> None:
    dev = developer()
    for method in ("open", "push", "label", "push", "close", "open", "label"):
        d = getattr(dev, method)()
        assert signature.verify(SECRET, d.body, d.headers["X-Hub-Signature-256"])
        payload = json.loads(d.body)
        assert 15_000 < len(d.body) < 60_000
        assert {"repository", "sender", "organization", "pull_request"} <= set(payload)
        event = events.parse(payload, delivery=d.delivery, team="checkout")
        assert event.pr.head_sha == d.head_sha
        assert event.pr.number == d.number
        assert event.action == d.action


def test_one_prs_events_are_applied_in_order_by_the_webhooks_rules() -> None:
    """Sent back to back (same second), each genuine event moves the stored record forward."""
    dev = developer(3)
    stored: events.Stored | None = None
    first = dev.open()
    sequence = [first, dev.push(), dev.label(), dev.push(), dev.close()]
    for d in sequence:
        ev = events.parse(json.loads(d.body), delivery=d.delivery, team="t")
        assert events.decide(stored, ev) is events.Verdict.APPLY, d.action
        pr = events.merged_spec(stored, ev)
        stored = events.Stored(pr, pr.updated_at, events.remember(stored, d.delivery))
    assert stored is not None
    assert stored.pr.head_sha == sequence[-2].head_sha
    assert stored.pr.state.value in {"closed", "merged"}
    for old in sequence:  # redeliveries change nothing
        ev = events.parse(json.loads(old.body), delivery=old.delivery, team="t")
        assert events.decide(stored, ev) is events.Verdict.DUPLICATE


def test_redelivery_is_byte_identical() -> None:
    dev = developer(5)
    dev.open()
    again = dev.redeliver()
    assert again is not None
    original = dev.sent[0]
    assert (again.body, again.headers, again.delivery) == (
        original.body,
        original.headers,
        original.delivery,
    )
    assert again.kind == "redelivery"


def test_fleet_has_40_teams_and_every_author_a_team() -> None:
    fleet = load_fleet()
    doc = fleet.mapping_doc()
    assert len(set(doc["authors"].values())) == 40
    assert len(doc["authors"]) == 500
    assert set(doc["repositories"]) == set(fleet.repositories)


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        pytest.param("opened", {}, id="opened"),
        pytest.param("synchronize", {"before": "c" * 40}, id="synchronize"),
        pytest.param("labeled", {"added_label": "hotfix"}, id="labeled"),
        pytest.param("closed", {}, id="closed"),
    ],
)
def test_the_fast_body_is_the_payload_serialized(action: str, extra: dict[str, str]) -> None:
    now = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
    facts = payloads.PrFacts(
        repository="acme/shop", number=42, author="eng-0007", head_sha="a" * 40,
        base_sha="b" * 40, branch="eng-0007/x", title="Fix cart", created_at=now,
        updated_at=now, labels=("wip",), state="closed" if action == "closed" else "open",
        merged=action == "closed", changed_paths=("services/cart/api.py",),
    )  # fmt: skip
    slow = orjson.dumps(payloads.event_payload(action, facts, body="text", **extra))
    assert payloads.event_body(action, facts, body="text", **extra) == slow
    again = payloads.event_body(action, facts, body="text", **extra)
    assert again == slow  # from the cached repository
