"""The cluster tier really runs workloads: namespaces finish deleting,
owned objects are garbage-collected, and a Job whose pod kwok runs completes."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.devcluster import ControlPlane

pytestmark = pytest.mark.cluster


def _eventually(what: str, check: Callable[[], bool], *, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


def _gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


@pytest.fixture(scope="module")
def core(k8s_cluster: ControlPlane) -> Iterator[client.CoreV1Api]:
    with contextlib.closing(k8s_cluster.api_client()) as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})

    def has_default_sa() -> bool:
        return not _gone(lambda: core.read_namespaced_service_account("default", name))

    _eventually("the default service account", has_default_sa, timeout=30)
    return name


def _pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
    }


def test_fake_nodes_are_ready(core: client.CoreV1Api) -> None:
    nodes = core.list_node(label_selector="type=kwok").items
    assert len(nodes) >= 1
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}
        assert ready["Ready"] == "True"


def test_pod_is_scheduled_and_runs(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, _pod("web"))

    def running() -> bool:
        pod = core.read_namespaced_pod("web", namespace)
        return bool(pod.spec.node_name) and pod.status.phase == "Running"

    _eventually("the pod running on a kwok node", running)


def test_namespace_is_deleted_to_completion(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"a": "b"}})
    core.create_namespaced_pod(namespace, _pod("web"))
    _eventually(
        "the pod running",
        lambda: core.read_namespaced_pod("web", namespace).status.phase == "Running",
    )
    core.delete_namespace(namespace)
    _eventually(
        f"namespace {namespace} gone", lambda: _gone(lambda: core.read_namespace(namespace))
    )


def test_owned_object_is_garbage_collected(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
    }
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "dependent", "ownerReferences": [reference]}}
    )
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")
    _eventually(
        "the dependent ConfigMap collected",
        lambda: _gone(lambda: core.read_namespaced_config_map("dependent", namespace)),
    )


def test_job_completes(k8s_cluster: ControlPlane, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "m", "image": "busybox:1.36", "command": ["true"]}],
                }
            },
        },
    }
    with contextlib.closing(k8s_cluster.api_client()) as api:
        batch = client.BatchV1Api(api)
        batch.create_namespaced_job(namespace, job)

        def complete() -> bool:
            status = batch.read_namespaced_job_status("migrate", namespace).status
            conditions = {c.type: c.status for c in (status.conditions or [])}
            return conditions.get("Complete") == "True"

        _eventually("the Job Complete", complete)
        assert batch.read_namespaced_job_status("migrate", namespace).status.succeeded == 1


def test_deployment_becomes_available(k8s_cluster: ControlPlane, namespace: str) -> None:
    labels = {"app": "orders"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "orders"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "orders", "image": "orders:stable"}]},
            },
        },
    }
    with contextlib.closing(k8s_cluster.api_client()) as api:
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment)

        def available() -> bool:
            status = apps.read_namespaced_deployment_status("orders", namespace).status
            return (status.available_replicas or 0) == 2

        _eventually("the Deployment available with 2 replicas", available)


def test_the_api_server_runs_with_the_planes_gogc(k8s_cluster: ControlPlane) -> None:
    pid = next(p.pid for p in k8s_cluster.processes if p.name == "kube-apiserver")
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    expected = os.environ.get("GOGC", "400").encode()
    assert b"GOGC=" + expected in environ
