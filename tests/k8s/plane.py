"""A session fixture for the controller's cluster-tier tests, independent of CRD-install bugs.

It starts the cluster tier through `controller.devcluster` (the same code as
the `k8s_cluster` fixture) and installs the Mayfly and test-only CRDs. It
adds the `api-approved.kubernetes.io` annotation that the API server demands
for CRDs in `*.k8s.io` groups when a test CRD lacks it (the committed
VolumeSnapshot test CRD does; reported to the control-plane owner). Like the
owner's fixture, a plane that cannot start fails the tests, never skips them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.devcluster import ControlPlane, Tier, manifests, start
from controller.devcluster.binaries import BinariesUnavailableError
from controller.devcluster.processes import ProcessFailedError
from controller.devcluster.session import DEFAULT_CRD_DIRS
from tests.k8s.harness import Scenario

APPROVAL = "api-approved.kubernetes.io"


def _approved(doc: dict[str, Any]) -> dict[str, Any]:
    group = str(doc.get("spec", {}).get("group", ""))
    annotations = doc["metadata"].setdefault("annotations", {}) or {}
    if group.endswith((".k8s.io", ".kubernetes.io")) and APPROVAL not in annotations:
        annotations[APPROVAL] = "unapproved, test-only CRD"
        doc["metadata"]["annotations"] = annotations
    return doc


def install_crds(plane: ControlPlane) -> None:
    docs = [
        _approved(doc)
        for directory in DEFAULT_CRD_DIRS
        if directory.is_dir()
        for doc in manifests.load_documents(manifests.manifest_files(directory))
        if doc.get("kind") == "CustomResourceDefinition"
    ]
    with contextlib.closing(plane.api_client()) as api:
        manifests.apply(api, docs)
        manifests.wait_established(api, [d["metadata"]["name"] for d in docs])


def _plane(tier: Tier) -> Iterator[ControlPlane]:
    try:
        plane = start(tier)
    except (BinariesUnavailableError, ProcessFailedError, OSError) as error:
        ci = os.environ.get("CI") == "true"
        pytest.fail(
            f"the {tier.value} tier could not be started{' (CI=true)' if ci else ''}: {error}",
            pytrace=False,
        )
    try:
        install_crds(plane)
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session", name="mayfly_cluster")
def mayfly_cluster_fixture() -> Iterator[ControlPlane]:
    """The cluster tier with every CRD the controller writes."""
    yield from _plane(Tier.CLUSTER)


@pytest.fixture(scope="session", name="mayfly_api")
def mayfly_api_fixture() -> Iterator[ControlPlane]:
    """The api tier (etcd + kube-apiserver) with the CRDs: writes, conflicts, validation."""
    yield from _plane(Tier.API)


@pytest.fixture(name="api_scenario")
def api_scenario_fixture(mayfly_api: ControlPlane, tmp_path: Path) -> Scenario:
    """An isolated scenario on the api tier."""
    return Scenario(mayfly_api, tmp_path)


@pytest.fixture(name="scenario")
def scenario_fixture(mayfly_cluster: ControlPlane, tmp_path: Path) -> Scenario:
    """One isolated scenario (own namespaces, blueprint and repository)."""
    return Scenario(mayfly_cluster, tmp_path)
