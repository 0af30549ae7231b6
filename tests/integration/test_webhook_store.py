"""The webhook against the real API server: 2xx only after the write, duplicates,
out-of-order and concurrent deliveries, and an unreachable API server (503)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kubernetes import client

from controller.k8s import kube, names
from controller.webhook.app import Settings, create_app
from controller.webhook.github import GitHub
from controller.webhook.mapping import RepoMap, Target
from controller.webhook.payload import pull_request_payload, signed_request
from controller.webhook.store import Store
from tests.k8s.harness import SECRET, Scenario
from tests.k8s.plane import api_scenario_fixture, mayfly_api_fixture  # noqa: F401
from tests.webhook.recording import Call, Reply, recording
from tests.webhook.server import free_port, serving

pytestmark = pytest.mark.api

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _ensure_namespace(s: Scenario) -> None:
    s.api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}})


def test_written_before_2xx_and_duplicates(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    with s.webhook() as url:
        resp = s.send(url, "opened", 5, "a1" * 20, updated_at=T0, delivery="d-1")
        assert resp.json()["result"] == "applied"
        obj = s.pe(5)  # no waiting: the write was accepted before the answer
        assert obj is not None
        assert obj["spec"]["headSha"] == "a1" * 20
        assert obj["metadata"]["annotations"][names.DELIVERIES] == "d-1"
        rv = obj["metadata"]["resourceVersion"]
        resp = s.send(url, "opened", 5, "a1" * 20, updated_at=T0, delivery="d-1")
        assert resp.json()["result"] == "duplicate"
        assert (s.pe(5) or {})["metadata"]["resourceVersion"] == rv


def test_closed_before_opened_never_resurrects(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    with s.webhook() as url:
        closed = s.send(url, "closed", 6, "b2" * 20, updated_at=T0 + timedelta(minutes=9))
        assert closed.json()["result"] == "applied"
        opened = s.send(url, "opened", 6, "b2" * 20, updated_at=T0)
        assert opened.json()["result"] == "stale"
        assert (s.pe(6) or {})["spec"]["state"] == "closed"


def test_concurrent_out_of_order_synchronizes_keep_the_newest_head(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    shas = [f"{i:02x}" * 20 for i in range(1, 13)]
    events = [("opened", shas[0], T0, None)] + [
        ("synchronize", shas[i], T0 + timedelta(minutes=i), shas[i - 1]) for i in range(1, 12)
    ]
    random.Random(7).shuffle(events)
    with s.webhook() as url, ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(
                lambda e: s.send(url, e[0], 8, e[1], updated_at=e[2], before=e[3]).status_code,
                events,
            )
        )
    assert set(results) == {200}
    obj = s.pe(8) or {}
    assert obj["spec"]["headSha"] == shas[-1]
    assert obj["metadata"]["annotations"][names.EVENT_AT].startswith("2026-03-02T09:11:00")


def test_unreachable_api_server_is_503_and_nothing_claimed(api_scenario: Scenario) -> None:
    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{free_port()}"
    configuration.retries = 0
    dead = kube.Kube(client.ApiClient(configuration), timeout=2)
    store = Store(dead, namespace="nowhere")
    repos = RepoMap({api_scenario.repo.lower(): Target(api_scenario.blueprint, "web")})
    with serving(create_app(Settings(SECRET, repos, store))) as url:
        resp = api_scenario.send(url, "opened", 1, "c3" * 20)
    assert resp.status_code == 503


def test_changed_paths_come_from_the_github_api_when_the_payload_lacks_them(
    api_scenario: Scenario,
) -> None:
    s = api_scenario
    _ensure_namespace(s)

    def files(call: Call) -> Reply:
        return 200, [{"filename": "services/orders/migrations/0009.sql"}, {"filename": "a.py"}], {}

    with recording(files) as gh_server:
        gh = GitHub(gh_server.url, token="t")
        store = Store(
            kube.Kube(s.plane.api_client()),
            namespace=s.namespace,
            paths=lambda pr: gh.pull_files(pr.repository, pr.number),
        )
        repos = RepoMap({s.repo.lower(): Target(s.blueprint, "web")})
        with serving(create_app(Settings(SECRET, repos, store))) as url:
            payload = pull_request_payload(
                action="opened", repository=s.repo, number=3, head_sha="e5" * 20
            )
            body, headers = signed_request(SECRET, payload)
            assert httpx.post(f"{url}/github", content=body, headers=headers).status_code == 200
            labeled = pull_request_payload(
                action="labeled", repository=s.repo, number=3, head_sha="e5" * 20,
                labels=("hotfix",),
            )  # fmt: skip
            body, headers = signed_request(SECRET, labeled)
            assert httpx.post(f"{url}/github", content=body, headers=headers).status_code == 200
    obj = s.pe(3) or {}
    assert obj["spec"]["changedPaths"] == ["a.py", "services/orders/migrations/0009.sql"]
    assert obj["spec"]["labels"] == ["hotfix"]
    assert [c.path.split("?")[0] for c in gh_server.calls] == [f"/repos/{s.repo}/pulls/3/files"]
