"""The API server's request counters, read from a real API server."""

from __future__ import annotations

import contextlib
import uuid

from kubernetes import client

from controller.devcluster import ControlPlane
from loadtests import apiserver


def _creates_of_configmaps(labels: dict[str, str]) -> str | None:
    if labels.get("resource") != "configmaps" or labels.get("verb") != "POST":
        return None
    return f"{labels['verb']} {labels['code']}"


def test_the_requests_a_client_makes_are_counted(k8s_api: ControlPlane) -> None:
    with contextlib.closing(k8s_api.api_client()) as api:
        core = client.CoreV1Api(api)
        before = apiserver.request_counts(api, _creates_of_configmaps)
        for _ in range(3):
            name = f"c-{uuid.uuid4().hex[:8]}"
            core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
            )
        after = apiserver.request_counts(api, _creates_of_configmaps)
    grown = {key: n - before.get(key, 0.0) for key, n in after.items()}
    assert {key: n for key, n in grown.items() if n} == {"POST 201": 3}
