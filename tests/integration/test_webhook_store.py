"""The webhook against the real API server: 2xx only after the write, duplicates,
out-of-order and concurrent deliveries, and an unreachable API server (503).

Each behaviour is checked on both write paths: `plain` (`store.Store`, a GET
per decision) and `cached` (`CachedStore`, the production path: a watch cache
and one write with a precondition). The last tests check what only the
cached path could get wrong: a stale cache must never cause a rollback or a
resurrection (the write's precondition catches it), nor a lost update.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from kubernetes import client

from controller.k8s import kube, names
from controller.webhook.apiserver import ApiServer
from controller.webhook.app import Settings, create_app
from controller.webhook.cache import Entry
from controller.webhook.cached_store import CachedStore
from controller.webhook.events import Event, Verdict, parse
from controller.webhook.github import GitHub
from controller.webhook.mapping import RepoMap, Target
from controller.webhook.payload import pull_request_payload, signed_request
from controller.webhook.store import PathSource, Store
from tests.k8s.harness import SECRET, Scenario
from tests.k8s.plane import api_scenario_fixture, mayfly_api_fixture  # noqa: F401
from tests.webhook.recording import Call, Reply, recording
from tests.webhook.server import free_port, serving

pytestmark = pytest.mark.api

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
PATHS = ["plain", "cached"]
T = TypeVar("T")


@contextlib.contextmanager
def webhook(s: Scenario, path: str, *, paths: PathSource | None = None) -> Iterator[str]:
    """The webhook on `path` ("plain" or "cached"), ready (cache synced) when yielded."""
    repos = RepoMap({s.repo.lower(): Target(s.blueprint, "web")})
    store: Store | CachedStore
    if path == "plain":
        store = Store(kube.Kube(s.plane.api_client()), namespace=s.namespace, paths=paths)
    else:
        cfg = s.plane.api_client().configuration
        store = CachedStore(ApiServer(cfg, namespace=s.namespace), namespace=s.namespace,
                            paths=paths)  # fmt: skip
    with serving(create_app(Settings(SECRET, repos, store))) as url:
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the webhook's cache never synced"
            time.sleep(0.05)
        yield url


def _ensure_namespace(s: Scenario) -> None:
    s.api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}})


@pytest.mark.parametrize("path", PATHS)
def test_written_before_2xx_and_duplicates(api_scenario: Scenario, path: str) -> None:
    s = api_scenario
    _ensure_namespace(s)
    with webhook(s, path) as url:
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


@pytest.mark.parametrize("path", PATHS)
def test_closed_before_opened_never_resurrects(api_scenario: Scenario, path: str) -> None:
    s = api_scenario
    _ensure_namespace(s)
    with webhook(s, path) as url:
        closed = s.send(url, "closed", 6, "b2" * 20, updated_at=T0 + timedelta(minutes=9))
        assert closed.json()["result"] == "applied"
        opened = s.send(url, "opened", 6, "b2" * 20, updated_at=T0)
        assert opened.json()["result"] == "stale"
        assert (s.pe(6) or {})["spec"]["state"] == "closed"


@pytest.mark.parametrize("path", PATHS)
def test_concurrent_out_of_order_synchronizes_keep_the_newest_head(
    api_scenario: Scenario, path: str
) -> None:
    s = api_scenario
    _ensure_namespace(s)
    shas = [f"{i:02x}" * 20 for i in range(1, 13)]
    events = [("opened", shas[0], T0, None)] + [
        ("synchronize", shas[i], T0 + timedelta(minutes=i), shas[i - 1]) for i in range(1, 12)
    ]
    random.Random(7).shuffle(events)
    with webhook(s, path) as url, ThreadPoolExecutor(6) as pool:
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


@pytest.mark.parametrize("path", PATHS)
def test_unreachable_api_server_is_503_and_nothing_claimed(
    api_scenario: Scenario, path: str
) -> None:
    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{free_port()}"
    configuration.retries = 0
    store: Store | CachedStore
    if path == "plain":
        store = Store(kube.Kube(client.ApiClient(configuration), timeout=2), namespace="nowhere")
    else:
        store = CachedStore(ApiServer(configuration, namespace="nowhere", timeout=2),
                            namespace="nowhere")  # fmt: skip
    repos = RepoMap({api_scenario.repo.lower(): Target(api_scenario.blueprint, "web")})
    with serving(create_app(Settings(SECRET, repos, store))) as url:
        resp = api_scenario.send(url, "opened", 1, "c3" * 20)
        ready = httpx.get(f"{url}/readyz").status_code
    assert resp.status_code == 503
    assert ready == (200 if path == "plain" else 503)  # the cache never synced


@pytest.mark.parametrize("path", PATHS)
def test_changed_paths_come_from_the_github_api_when_the_payload_lacks_them(
    api_scenario: Scenario, path: str
) -> None:
    s = api_scenario
    _ensure_namespace(s)

    def files(call: Call) -> Reply:
        return 200, [{"filename": "services/orders/migrations/0009.sql"}, {"filename": "a.py"}], {}

    with recording(files) as gh_server:
        gh = GitHub(gh_server.url, token="t")
        with webhook(s, path, paths=lambda pr: gh.pull_files(pr.repository, pr.number)) as url:
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


# -- the cached path with a stale cache --------------------------------------------


def _event(s: Scenario, action: str, sha: str, at: datetime, **kw: Any) -> Event:
    payload = pull_request_payload(
        action=action, repository=s.repo, number=9, head_sha=sha, updated_at=at,
        created_at=T0, state="closed" if action == "closed" else "open", changed_paths=(), **kw,
    )  # fmt: skip
    return parse(payload, delivery=uuid.uuid4().hex, team="web")


def _with_cached(s: Scenario, act: Callable[[CachedStore], Awaitable[T]]) -> T:
    """Run `act` with a started `CachedStore` whose cache has synced."""

    async def main() -> T:
        cfg = s.plane.api_client().configuration
        store = CachedStore(ApiServer(cfg, namespace=s.namespace), namespace=s.namespace)
        await store.start()
        try:
            await asyncio.wait_for(store.cache.synced.wait(), 30)
            return await act(store)
        finally:
            await store.stop()

    return asyncio.run(main())


def _plain(s: Scenario) -> Store:
    """Another replica's writer: its writes reach this cache only through the watch."""
    return Store(kube.Kube(s.plane.api_client()), namespace=s.namespace)


def _freeze(store: CachedStore, name: str, entry: Entry | None) -> None:
    """Make the cache stale: stop its watch and pin `name` to `entry`."""
    assert store._task is not None
    store._task.cancel()
    if entry is None:
        store.cache.entries.pop(name, None)
    else:
        store.cache.entries[name] = entry


def test_stale_cache_never_resurrects_a_closed_environment(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    name = s.env_ns(9)

    async def act(store: CachedStore) -> Verdict:
        assert await store.write(_event(s, "opened", "a1" * 20, T0), blueprint=s.blueprint) is (
            Verdict.APPLY
        )
        old = store.cache.get(name)
        _freeze(store, name, old)  # the cache still sees it open at T0
        closed = _event(s, "closed", "a1" * 20, T0 + timedelta(minutes=9))
        assert _plain(s).write(closed, blueprint=s.blueprint) is Verdict.APPLY
        late = _event(s, "synchronize", "b2" * 20, T0 + timedelta(minutes=5), before="a1" * 20)
        return await store.write(late, blueprint=s.blueprint)  # newer than the cache's view

    assert _with_cached(s, act) is Verdict.STALE  # the precondition caught it (409, re-read)
    obj = s.pe(9) or {}
    assert obj["spec"]["state"] == "closed"
    assert obj["spec"]["headSha"] == "a1" * 20


def test_stale_cache_that_missed_a_create_never_rolls_back(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    newer = _event(s, "synchronize", "c3" * 20, T0 + timedelta(minutes=3), before="a1" * 20)

    async def act(store: CachedStore) -> tuple[Verdict, int]:
        _freeze(store, s.env_ns(9), None)
        assert _plain(s).write(newer, blueprint=s.blueprint) is Verdict.APPLY
        opened = _event(s, "opened", "a1" * 20, T0)
        return await store.write(opened, blueprint=s.blueprint), store.conflicts

    verdict, conflicts = _with_cached(s, act)
    assert (verdict, conflicts) == (Verdict.STALE, 1)  # the create got 409, then re-read
    assert (s.pe(9) or {})["spec"]["headSha"] == "c3" * 20


def test_stale_cache_entry_of_a_deleted_object_is_recreated(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    name = s.env_ns(9)

    async def act(store: CachedStore) -> Verdict:
        await store.write(_event(s, "opened", "a1" * 20, T0), blueprint=s.blueprint)
        _freeze(store, name, store.cache.get(name))
        assert s.api.delete(kube.PE, name, s.namespace)  # deleted by hand
        push = _event(s, "synchronize", "d4" * 20, T0 + timedelta(minutes=1), before="a1" * 20)
        return await store.write(push, blueprint=s.blueprint)

    assert _with_cached(s, act) is Verdict.APPLY
    assert (s.pe(9) or {})["spec"]["headSha"] == "d4" * 20


def test_a_tie_judged_stale_on_the_cache_is_confirmed_on_fresh_data(
    api_scenario: Scenario,
) -> None:
    s = api_scenario
    _ensure_namespace(s)
    name = s.env_ns(9)

    async def act(store: CachedStore) -> Verdict:
        await store.write(_event(s, "opened", "a1" * 20, T0), blueprint=s.blueprint)
        _freeze(store, name, store.cache.get(name))  # the cache keeps head a1
        push = _event(s, "synchronize", "b2" * 20, T0, before="a1" * 20)  # same second
        assert _plain(s).write(push, blueprint=s.blueprint) is Verdict.APPLY
        again = _event(s, "synchronize", "c3" * 20, T0, before="b2" * 20)
        return await store.write(again, blueprint=s.blueprint)  # stale on the cache only

    assert _with_cached(s, act) is Verdict.APPLY
    assert (s.pe(9) or {})["spec"]["headSha"] == "c3" * 20


def test_the_watch_brings_other_writers_changes_into_the_cache(api_scenario: Scenario) -> None:
    s = api_scenario
    _ensure_namespace(s)
    name = s.env_ns(9)

    async def act(store: CachedStore) -> tuple[int, int, str]:
        opened = _event(s, "opened", "a1" * 20, T0)
        assert _plain(s).write(opened, blueprint=s.blueprint) is Verdict.APPLY
        rv = (s.pe(9) or {})["metadata"]["resourceVersion"]
        for _ in range(300):
            entry = store.cache.get(name)
            if entry is not None and entry.resource_version == rv:
                break
            await asyncio.sleep(0.02)
        reads = store.fresh_reads
        dup = await store.write(opened, blueprint=s.blueprint)  # a redelivery
        push = _event(s, "synchronize", "b2" * 20, T0 + timedelta(minutes=1), before="a1" * 20)
        applied = await store.write(push, blueprint=s.blueprint)
        return store.fresh_reads - reads, store.conflicts, f"{dup.value},{applied.value}"

    reads, conflicts, verdicts = _with_cached(s, act)
    assert (reads, conflicts, verdicts) == (0, 0, "duplicate,applied")  # no GET, one write each
    assert (s.pe(9) or {})["spec"]["headSha"] == "b2" * 20
