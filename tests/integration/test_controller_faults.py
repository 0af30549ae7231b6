"""Faults on the cluster tier: controller SIGKILLed mid-provisioning, a namespace frame cut
short, two replicas with the leader killed, a failing masking Job, a PreviewEnvironment
deleted by hand, orphans."""

from __future__ import annotations

import time
from typing import Any

import pytest

from controller.core.policy import Policy
from controller.core.types import EnvKey, Step
from controller.k8s import kube, metrics, names
from controller.k8s import render_namespace as rns
from tests.k8s.harness import Scenario, eventually, kill
from tests.k8s.plane import mayfly_cluster_fixture, scenario_fixture  # noqa: F401

pytestmark = pytest.mark.cluster

SHA = "3c" * 20


def _env_objects(s: Scenario, number: int) -> dict[str, list[str]]:
    out = {}
    for kind in (kube.JOB, kube.DEPLOYMENT, kube.SERVICE, kube.VIRTUAL_SERVICE):
        out[kind.kind] = sorted(o["metadata"]["name"] for o in s.in_ns(kind, number))
    return out


def _blueprint_namespaces(s: Scenario) -> set[str]:
    items, _ = s.api.list(kube.NAMESPACE, selector=f"{names.BLUEPRINT}={s.blueprint}")
    return {o["metadata"]["name"] for o in items}


def test_sigkill_mid_provisioning_then_restart(scenario: Scenario) -> None:
    s = scenario
    with s.webhook() as url:
        first = s.spawn_controller("--no-leader-elect", log="first")
        try:
            eventually("controller started", lambda: s.api.get(kube.NAMESPACE, s.namespace))
            assert s.send(url, "opened", 1, SHA).status_code == 200
            eventually("provisioning started", lambda: s.api.get(kube.NAMESPACE, s.env_ns(1)))
            phase_at_kill = s.phase(1)
        finally:
            kill(first)
        assert phase_at_kill != "Ready"  # killed mid-provisioning ("" = before the first report)
        second = s.spawn_controller("--no-leader-elect", log="second")
        try:
            eventually("Ready after the restart", lambda: s.phase(1) == "Ready", timeout=120)
            objects = _env_objects(s, 1)
            assert objects["Job"] == [f"masking-{SHA[:12]}-1", f"migrations-{SHA[:12]}-1"]
            assert objects["Deployment"] == ["api", "orders", "web"]
            assert len(s.volumes(1)) == 1
            assert _blueprint_namespaces(s) == {s.env_ns(1)}
            obj = s.pe(1) or {}
            assert obj["metadata"]["finalizers"] == [names.FINALIZER]
            assert s.send(url, "closed", 1, SHA).status_code == 200
            eventually("torn down", lambda: not _blueprint_namespaces(s), timeout=120)
        finally:
            kill(second)


def test_a_namespace_frame_cut_short_is_written_again(scenario: Scenario) -> None:
    """A controller died after writing the PR namespace but before its quota, limits and
    deny-production policy: the next one writes the frame again before the environment is
    Ready (a namespace counts only with its `framed` mark, the frame's last write)."""
    s = scenario
    with s.controller():  # sets up its namespaces
        eventually("controller started", lambda: s.api.get(kube.NAMESPACE, s.namespace))
    key, ns = EnvKey(s.repo, 1), s.env_ns(1)
    with s.webhook() as url:  # the PR is opened while no controller runs
        assert s.send(url, "opened", 1, SHA).status_code == 200
    # what the dead controller managed to write: the namespace alone
    s.api.apply(rns.namespace(key, ns, team="web", owner="someone", blueprint=s.blueprint))
    with s.controller():
        eventually("Ready", lambda: s.phase(1) == "Ready", timeout=120)
        for kind, name in ((kube.QUOTA, "mayfly-quota"), (kube.LIMITS, "mayfly-limits"),
                           (kube.NETPOL, "mayfly-deny-production")):  # fmt: skip
            assert s.api.get(kind, name, ns) is not None, kind.kind
        framed = (s.api.get(kube.NAMESPACE, ns) or {})["metadata"]["annotations"]
        assert framed[names.FRAMED] == "true"


def _leader(s: Scenario) -> str:
    lease = s.api.get(kube.LEASE, "mayfly-controller", s.namespace)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def test_two_replicas_one_acts_and_the_survivor_takes_over(scenario: Scenario) -> None:
    s = scenario
    election = ("--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1")
    replicas = [s.spawn_controller(*election, log=f"replica{i}") for i in range(2)]
    try:
        holder = eventually("a leader", lambda: _leader(s), timeout=60)
        by_pid = {str(p.pid): p for p in replicas}
        leader = next(p for pid, p in by_pid.items() if f"-{pid}-" in holder)
        follower = next(p for p in replicas if p is not leader)
        with s.webhook() as url:
            assert s.send(url, "opened", 1, SHA).status_code == 200
            eventually("Ready under the first leader", lambda: s.phase(1) == "Ready", timeout=120)
            kill(leader)
            assert s.send(url, "opened", 2, SHA).status_code == 200
            new = eventually(
                "the survivor leads", lambda: f"-{follower.pid}-" in _leader(s), timeout=60
            )
            assert new
            eventually("Ready under the survivor", lambda: s.phase(2) == "Ready", timeout=120)
            assert follower.poll() is None
            for number in (1, 2):
                assert s.send(url, "closed", number, SHA).status_code == 200
            eventually("torn down", lambda: not _blueprint_namespaces(s), timeout=120)
    finally:
        for proc in replicas:
            kill(proc)


def _deny_masking_pods(s: Scenario) -> list[dict[str, Any]]:
    """Test-only admission policy: masking pods of this blueprint cannot be created."""
    name = f"deny-masking-{s.tag}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                     "resources": ["pods"]}
                ]
            },
            "validations": [
                {
                    "expression": "!has(object.metadata.labels) || "
                    "object.metadata.labels[?'mayfly.dev/step'].orValue('') != 'masking'",
                    "message": "masking is broken in this test",
                }
            ],
        },
    }  # fmt: skip
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {names.BLUEPRINT: s.blueprint}}
            },
        },
    }
    return [policy, binding]


def test_failing_masking_job_fails_closed(scenario: Scenario) -> None:
    s = scenario
    from kubernetes import dynamic

    dyn = dynamic.DynamicClient(s.plane.api_client())  # type: ignore[no-untyped-call]
    docs = _deny_masking_pods(s)
    for doc in docs:
        res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        res.server_side_apply(body=doc, field_manager="test", force_conflicts=True)
    time.sleep(2)  # admission policies are loaded asynchronously
    try:
        cfg: dict[str, Any] = {
            "job_deadline_seconds": ((Step.MASKING, 3),),
            "policy": Policy(max_attempts=1),
        }
        with s.controller(**cfg), s.webhook() as url:
            assert s.send(url, "opened", 1, SHA).status_code == 200
            eventually("Failed", lambda: s.phase(1) == "Failed", timeout=120)
            status = (s.pe(1) or {})["status"]
            assert status["reason"] == "MaskingFailed"
            assert "no workload was given the database" in status["message"]
            (job,) = s.jobs(1, Step.MASKING)
            failed = {c["type"]: c for c in job["status"]["conditions"]}["Failed"]
            assert failed["reason"] == "DeadlineExceeded"
            assert s.in_ns(kube.DEPLOYMENT, 1) == []
            assert s.api.get(kube.SECRET, names.DB_SECRET, s.env_ns(1)) is None
            time.sleep(3)  # stays Failed: no retry after the last attempt, nothing deployed
            assert s.phase(1) == "Failed"
            assert s.in_ns(kube.DEPLOYMENT, 1) == []
            assert s.send(url, "closed", 1, SHA).status_code == 200
            eventually("torn down", lambda: not _blueprint_namespaces(s), timeout=120)
    finally:
        for doc in reversed(docs):
            res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            res.delete(name=doc["metadata"]["name"])


def test_preview_environment_deleted_by_hand(scenario: Scenario) -> None:
    s = scenario
    with s.controller(), s.webhook() as url:
        assert s.send(url, "opened", 1, SHA).status_code == 200
        eventually("Ready", lambda: s.phase(1) == "Ready")
        assert s.api.delete(kube.PE, s.env_ns(1), s.namespace)
        eventually("the object is gone", lambda: s.pe(1) is None, timeout=120)
        assert s.api.get(kube.NAMESPACE, s.env_ns(1)) is None
        assert s.volumes(1) == []


def test_orphan_namespace_is_swept(scenario: Scenario) -> None:
    s = scenario
    before = metrics.ORPHANS_REMOVED._value.get()
    orphan = s.env_ns(99)
    s.api.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": orphan,
                "labels": {names.MANAGED: "true", names.BLUEPRINT: s.blueprint,
                           names.ENV: orphan},
                "annotations": {names.REPOSITORY_FULL: s.repo, names.NUMBER: "99"},
            },
        }
    )  # fmt: skip
    with s.controller():
        eventually("orphan deleted", lambda: s.api.get(kube.NAMESPACE, orphan) is None, timeout=120)
    assert metrics.ORPHANS_REMOVED._value.get() >= before + 1


def test_warm_pool_slot_is_claimed_once_and_replenished(mayfly_cluster: Any, tmp_path: Any) -> None:
    s = Scenario(mayfly_cluster, tmp_path, bp_overrides={"pool": {"defaultSize": 2}})

    def ready_slots() -> list[str]:
        items, _ = s.api.list(kube.PVC, namespace=s.pool, selector=f"{names.COMPONENT}=slot")
        return sorted(
            o["metadata"]["name"]
            for o in items
            if o["status"].get("phase") == "Bound"
            and names.CLAIMED_BY not in o["metadata"]["labels"]
        )

    with s.controller(), s.webhook() as url:
        eventually("two ready slots", lambda: len(ready_slots()) == 2)
        assert s.send(url, "opened", 1, SHA).status_code == 200
        eventually("Ready", lambda: s.phase(1) == "Ready")
        (volume,) = s.volumes(1)
        assert volume["metadata"]["annotations"][names.DETAIL].startswith("slot:")
        eventually("pool back to two", lambda: len(ready_slots()) == 2)
        phases = [t["phase"] for t in (s.pe(1) or {})["status"]["phaseTimestamps"]]
        assert "Cloning" not in phases  # a warm slot is already bound: no clone, no wait
        assert s.send(url, "closed", 1, SHA).status_code == 200
        eventually("slot released", lambda: s.volumes(1) == [], timeout=120)


def test_idle_expiry_tears_down_without_any_event(mayfly_cluster: Any, tmp_path: Any) -> None:
    s = Scenario(mayfly_cluster, tmp_path, bp_overrides={"idleExpiry": "25s"})
    with s.controller(), s.webhook() as url:
        assert s.send(url, "opened", 1, SHA).status_code == 200
        eventually("Ready", lambda: s.phase(1) == "Ready")
        eventually("expired and gone", lambda: s.phase(1) == "Gone", timeout=120)
        status = (s.pe(1) or {})["status"]
        assert status["reason"] == "IdleExpired"
        assert "Expired" in [t["phase"] for t in status["phaseTimestamps"]]
        assert s.api.get(kube.NAMESPACE, s.env_ns(1)) is None
