"""Fixtures of the controller's tests on the real control plane.

`mayfly_cluster` / `mayfly_api` are the shared session planes of
tests/fixtures/k8s.py (one per tier per session; a plane that cannot start
fails the tests, never skips them); `scenario` / `api_scenario` give each test
its own namespaces, blueprint and repository. `install_crds` is for scripts
(the burst benchmark) that start their own plane.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from controller.devcluster import ControlPlane, manifests
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


@pytest.fixture(scope="session", name="mayfly_cluster")
def mayfly_cluster_fixture(k8s_cluster: ControlPlane) -> ControlPlane:
    """The shared cluster tier (tests/fixtures/k8s.py) with every CRD installed."""
    return k8s_cluster


@pytest.fixture(scope="session", name="mayfly_api")
def mayfly_api_fixture(k8s_api: ControlPlane) -> ControlPlane:
    """The shared api tier: writes, conflicts, validation."""
    return k8s_api


@pytest.fixture(name="api_scenario")
def api_scenario_fixture(mayfly_api: ControlPlane, tmp_path: Path) -> Scenario:
    """An isolated scenario on the api tier."""
    return Scenario(mayfly_api, tmp_path)


@pytest.fixture(name="scenario")
def scenario_fixture(mayfly_cluster: ControlPlane, tmp_path: Path) -> Scenario:
    """One isolated scenario (own namespaces, blueprint and repository)."""
    return Scenario(mayfly_cluster, tmp_path)
