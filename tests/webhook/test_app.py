"""The webhook over real HTTP (uvicorn): signature, size, JSON, event routing, outcomes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controller.k8s.errors import RetryableError
from controller.webhook import events
from controller.webhook.app import Settings, create_app
from controller.webhook.mapping import RepoMap, Target
from controller.webhook.payload import pull_request_payload, signed_request
from controller.webhook.signature import sign
from tests.webhook.server import serving

SECRET = b"s3cret-for-tests"


class MemoryWriter:
    """Applies the same ordering rules as `store.Store`, in memory; counts writes."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, int], events.Stored] = {}
        self.writes: list[events.Event] = []
        self.fail_next = False
        self.lock = threading.Lock()

    def write(self, event: events.Event, *, blueprint: str) -> events.Verdict:
        assert blueprint == "shop"
        if self.fail_next:
            self.fail_next = False
            raise RetryableError(503, "ServiceUnavailable", "down")
        with self.lock:
            key = (event.pr.repository, event.pr.number)
            current = self.stored.get(key)
            verdict = events.decide(current, event)
            if verdict is events.Verdict.APPLY:
                self.writes.append(event)
                self.stored[key] = events.Stored(
                    events.merged_spec(current, event),
                    event.pr.updated_at,
                    events.remember(current, event.delivery),
                )
            return verdict


@pytest.fixture
def writer() -> MemoryWriter:
    return MemoryWriter()


@pytest.fixture
def url(writer: MemoryWriter) -> Iterator[str]:
    repos = RepoMap({"acme/shop": Target("shop", "storefront")})
    app = create_app(Settings(SECRET, repos, writer, max_body=64 * 1024))
    with serving(app) as base:
        yield base


def _payload(action: str = "opened", **kw: Any) -> dict[str, Any]:
    return pull_request_payload(
        action=action,
        repository="acme/shop",
        number=12,
        head_sha="ab" * 20,
        **kw,
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/github", content=body, headers=headers, timeout=10)


def test_signed_opened_is_written(url: str, writer: MemoryWriter) -> None:
    body, headers = signed_request(SECRET, _payload(changed_paths=("services/web/a.py",)))
    resp = _post(url, body, headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"] == "applied"
    assert [e.pr.team for e in writer.writes] == ["storefront"]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("sha256=" + "0" * 64, id="wrong"),
        pytest.param("sha1=abc", id="wrong-scheme"),
    ],
)
def test_bad_signature_is_401_and_writes_nothing(
    url: str, writer: MemoryWriter, header: str | None
) -> None:
    body, headers = signed_request(SECRET, _payload())
    headers.pop("X-Hub-Signature-256")
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    assert _post(url, body, headers).status_code == 401
    assert writer.writes == []


def test_signature_of_another_secret_is_rejected(url: str, writer: MemoryWriter) -> None:
    body, headers = signed_request(b"other", _payload())
    assert _post(url, body, headers).status_code == 401
    assert writer.writes == []


def test_malformed_json_missing_fields_and_large_bodies_are_400(url: str) -> None:
    bad = b"{not json"
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d1"}
    resp = _post(url, bad, {**headers, "X-Hub-Signature-256": sign(SECRET, bad)})
    assert (resp.status_code, resp.json()["message"]) == (400, "body is not valid JSON")
    payload: dict[str, Any] = _payload()
    del payload["pull_request"]["head"]
    body, signed = signed_request(SECRET, payload)
    resp = _post(url, body, signed)
    assert resp.status_code == 400
    assert "head" in resp.json()["message"]
    big = _payload(changed_paths=tuple(f"p/{i:06d}" for i in range(20000)))
    body, signed = signed_request(SECRET, big)
    resp = _post(url, body, signed)
    assert resp.status_code == 400
    assert "larger than" in resp.json()["message"]


def test_ping_unknown_events_and_unknown_repos(url: str, writer: MemoryWriter) -> None:
    body, headers = signed_request(SECRET, {"zen": "hi"}, event="ping")
    assert _post(url, body, headers).status_code == 200
    body, headers = signed_request(SECRET, {"ref": "x"}, event="push")
    assert _post(url, body, headers).status_code == 202
    body, headers = signed_request(SECRET, _payload(action="assigned"))
    assert _post(url, body, headers).status_code == 202
    other = pull_request_payload(action="opened", repository="acme/x", number=1, head_sha="a" * 40)
    body, headers = signed_request(SECRET, other)
    assert _post(url, body, headers).status_code == 202
    assert writer.writes == []


def test_redelivery_and_out_of_order(url: str, writer: MemoryWriter) -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    opened = _payload(updated_at=t0, created_at=t0)
    closed = _payload(action="closed", state="closed", updated_at=t0 + timedelta(minutes=3))
    body, headers = signed_request(SECRET, closed, delivery="closed-1")
    assert _post(url, body, headers).json()["result"] == "applied"
    assert _post(url, body, headers).json()["result"] == "duplicate"
    body, headers = signed_request(SECRET, opened, delivery="opened-1")
    assert _post(url, body, headers).json()["result"] == "stale"
    assert [e.delivery for e in writer.writes] == ["closed-1"]


def test_api_outage_is_503_and_redelivery_then_succeeds(url: str, writer: MemoryWriter) -> None:
    writer.fail_next = True
    body, headers = signed_request(SECRET, _payload(), delivery="d-outage")
    assert _post(url, body, headers).status_code == 503
    assert _post(url, body, headers).json()["result"] == "applied"


def test_health_ready_metrics(url: str) -> None:
    assert httpx.get(f"{url}/healthz").text == "ok"
    assert httpx.get(f"{url}/readyz").status_code == 200
    body, headers = signed_request(SECRET, _payload())
    _post(url, body, headers)
    metrics = httpx.get(f"{url}/metrics").text
    assert 'mayfly_webhook_requests_total{outcome="applied",status="200"} 1.0' in metrics
    assert SECRET.decode() not in metrics
