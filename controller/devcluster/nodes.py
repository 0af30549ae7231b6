"""Fake nodes for the cluster tier, and the check that the tier is usable.

kwok keeps the annotated nodes Ready and walks pods bound to them through
their lifecycle (running, Job pods complete, deleted pods vanish). This
module only creates those Node objects and reads readiness; it starts no
process.
"""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.devcluster.components import KWOK_NODE_ANNOTATION
from controller.devcluster.tier import DEFAULT_FAKE_NODES

FAKE_NODES = tuple(f"kwok-node-{i}" for i in range(DEFAULT_FAKE_NODES))
_CAPACITY = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}


def fake_node(name: str) -> dict[str, Any]:
    """The Node object kwok manages: generous capacity, no taints."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "status": {"allocatable": dict(_CAPACITY), "capacity": dict(_CAPACITY)},
    }


def fake_node_names(count: int = DEFAULT_FAKE_NODES) -> tuple[str, ...]:
    """`count` node names (`kwok-node-0`, ...): 110 pods each, like a real node's default.

    Two are enough for the tests; a burst of hundreds of environments needs
    about one per 110 pods it runs (500 environments of 9 services: ~45).
    """
    if count < 1:
        raise ValueError(f"a cluster needs at least one fake node, got {count}")
    return tuple(f"kwok-node-{i}" for i in range(count))  # FAKE_NODES first


def create_fake_nodes(api: client.ApiClient, names: tuple[str, ...] = FAKE_NODES) -> None:
    """Create the fake nodes, tolerating ones that already exist."""
    core = client.CoreV1Api(api)
    for name in names:
        try:
            core.create_node(cast(client.V1Node, fake_node(name)))
        except ApiException as error:
            if error.status != 409:
                raise


def wait_cluster_ready(api: client.ApiClient, names: tuple[str, ...] = FAKE_NODES) -> bool:
    """True once every fake node is Ready and the `default` service account exists."""
    core = client.CoreV1Api(api)
    try:
        for name in names:
            node = core.read_node(name)
            status = node.status or client.V1NodeStatus()
            conditions = {c.type: c.status for c in (status.conditions or [])}
            if conditions.get("Ready") != "True":
                return False
        core.read_namespaced_service_account("default", "default")
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
