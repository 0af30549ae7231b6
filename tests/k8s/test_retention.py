"""Retention: which PreviewEnvironment records are forgotten; the delete on a real API server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.core.types import EnvStatus, Phase, PRState, PullRequest
from controller.k8s import kube, names, pe, retention
from tests.k8s.harness import Scenario
from tests.k8s.plane import api_scenario_fixture, mayfly_api_fixture  # noqa: F401

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SHA = "a" * 40


def _record(
    number: int,
    *,
    state: PRState = PRState.CLOSED,
    phase: Phase = Phase.GONE,
    at: datetime = T0,
    finalizers: tuple[str, ...] = (),
    repo: str = "acme/shop",
    namespace: str = "mayfly",
) -> dict[str, Any]:
    pr = PullRequest(
        repository=repo, number=number, head_sha=SHA, base_sha=SHA, team="web",
        author="octocat", opened_at=T0 - timedelta(days=1), updated_at=T0, state=state,
    )  # fmt: skip
    key = pr.key
    status = EnvStatus(
        phase=phase,
        transitions=((Phase.PENDING, T0 - timedelta(hours=1)), (phase, at)),
    )
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.PE_KIND,
        "metadata": {
            "name": names.env_name(key),
            "namespace": namespace,
            "finalizers": list(finalizers),
        },
        "spec": pe.spec_of(pr),
        "status": pe.status_body(status),
    }


def test_only_closed_gone_records_past_the_window_expire() -> None:
    now = T0 + timedelta(days=8)
    old = _record(1)
    recent = _record(2, at=now - timedelta(days=1))
    reopened = _record(3, state=PRState.OPEN)
    ready = _record(4, phase=Phase.READY)
    finalized = _record(5, finalizers=(names.FINALIZER,))
    merged_older = _record(6, state=PRState.MERGED, at=T0 - timedelta(days=2))
    no_status = {**_record(7), "status": {}}
    objs = [old, recent, reopened, ready, finalized, merged_older, no_status]
    got = retention.expired(objs, now=now, retain=timedelta(days=7))
    assert [o["spec"]["number"] for o in got] == [6, 1]  # oldest first
    assert [o["spec"]["number"] for o in retention.expired(objs, now=now, retain=timedelta(0))] == [
        6,
        1,
        2,
    ]
    assert retention.gone_since(old) == T0


def test_collect_deletes_expired_records_and_keeps_one_written_since(
    api_scenario: Scenario,
) -> None:
    s = api_scenario
    api = s.api
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}})
    stored: dict[int, dict[str, Any]] = {}
    for number, kw in ((1, {}), (2, {}), (3, {"at": datetime.now(UTC)})):
        body = _record(number, repo=s.repo, namespace=s.namespace, **kw)  # type: ignore[arg-type]
        status = body.pop("status")
        api.create(body)
        stored[number] = api.apply(
            {**{k: body[k] for k in ("apiVersion", "kind")}, "metadata": {
                "name": body["metadata"]["name"], "namespace": s.namespace}, "status": status},
            subresource="status",
        )  # fmt: skip
    # the webhook reopens PR 2 after the sweep read it: its stale record must survive
    reopened = dict(stored[2])
    reopened_spec = {**reopened["spec"], "state": "open"}
    api.apply(
        {
            "apiVersion": names.API_VERSION,
            "kind": names.PE_KIND,
            "metadata": {"name": reopened["metadata"]["name"], "namespace": s.namespace},
            "spec": reopened_spec,
        },
        manager="mayfly-webhook",
    )
    removed = retention.collect(
        api, list(stored.values()), now=datetime.now(UTC), retain=timedelta(days=7)
    )
    assert removed == 1
    left, _ = api.list(kube.PE, namespace=s.namespace)
    assert sorted(o["spec"]["number"] for o in left) == [2, 3]
