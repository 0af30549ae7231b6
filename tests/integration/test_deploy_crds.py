"""The generated CRDs: current with the core, and enforced by a real API server.

The API server must reject what the core's own decoder rejects, with a message
naming the offending field; the example blueprint the core accepts must be
accepted as a Blueprint object too.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.core.blueprint import load_blueprint
from controller.core.schema import encode
from controller.devcluster import ControlPlane
from controller.k8s import crds

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = crds.GROUP, crds.VERSION


def test_committed_crds_are_current() -> None:
    assert crds.stale() == [], "regenerate with: python -m controller.k8s.crds"


def test_check_mode_reports_stale_files(tmp_path: Path) -> None:
    assert crds.main(["--check", "--output-dir", str(tmp_path)]) == 1
    crds.write(tmp_path)
    assert crds.main(["--check", "--output-dir", str(tmp_path)]) == 0


@pytest.fixture(scope="module")
def custom(k8s_api: ControlPlane) -> Iterator[tuple[client.CustomObjectsApi, str]]:
    with contextlib.closing(k8s_api.api_client()) as api:
        namespace = f"crd-{uuid.uuid4().hex[:6]}"
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        yield client.CustomObjectsApi(api), namespace


def _pe(**spec: Any) -> dict[str, Any]:
    base = {
        "repository": "acme/shop",
        "number": 42,
        "headSha": "0123456789abcdef0123456789abcdef01234567",
        "baseSha": "fedcba9876543210fedcba9876543210fedcba98",
        "team": "checkout",
        "author": "octocat",
        "openedAt": "2026-11-26T09:00:00Z",
        "updatedAt": "2026-11-26T10:00:00Z",
        "labels": ["hotfix"],
        "changedPaths": ["services/orders/app.py"],
    }
    base.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PreviewEnvironment",
        "metadata": {"name": f"pe-{uuid.uuid4().hex[:8]}"},
        "spec": {k: v for k, v in base.items() if v is not None},
    }


def _create(custom: tuple[client.CustomObjectsApi, str], plural: str, body: Any) -> Any:
    api, namespace = custom
    return api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body, field_validation="Strict"
    )


def _rejected(custom: tuple[client.CustomObjectsApi, str], plural: str, body: Any) -> str:
    with pytest.raises(ApiException) as error:
        _create(custom, plural, body)
    assert error.value.status in (400, 422), error.value.body
    return str(error.value.body)


@pytest.mark.api
def test_valid_preview_environment_is_accepted_and_status_is_a_subresource(custom: Any) -> None:
    created = _create(custom, "previewenvironments", _pe())
    api, namespace = custom
    name = created["metadata"]["name"]
    status = {
        "status": {
            "phase": "Queued",
            "queuePosition": 3,
            "phaseTimestamps": [{"phase": "Pending", "time": "2026-11-26T10:00:01Z"}],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "TeamQuotaReached",
                    "message": "team checkout holds 10 environments",
                    "lastTransitionTime": "2026-11-26T10:00:01Z",
                }
            ],
        }
    }
    patched = api.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "previewenvironments", name, status
    )
    assert patched["status"]["queuePosition"] == 3
    with pytest.raises(ApiException) as error:
        api.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "previewenvironments", name, {"status": {"phase": "Bogus"}}
        )
    assert "status.phase" in str(error.value.body)


@pytest.mark.api
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param({"number": 0}, "spec.number", id="number-below-1"),
        pytest.param({"headSha": "not-a-sha"}, "spec.headSha", id="bad-sha"),
        pytest.param({"repository": "no-slash"}, "spec.repository", id="bad-repository"),
        pytest.param({"team": "Bad_Team"}, "spec.team", id="team-not-dns-label"),
        pytest.param({"state": "reopened"}, "spec.state", id="state-not-in-enum"),
        pytest.param({"team": None}, "spec.team", id="team-missing"),
        pytest.param({"labels": "hotfix"}, "spec.labels", id="labels-not-a-list"),
        pytest.param({"author": "x" * 40}, "spec.author", id="author-too-long"),
        pytest.param({"colour": "blue"}, "colour", id="unknown-field"),
    ],
)
def test_invalid_preview_environment_is_rejected_naming_the_field(
    custom: Any, spec: dict[str, Any], field: str
) -> None:
    assert field in _rejected(custom, "previewenvironments", _pe(**spec))


def _example_blueprint() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "examples" / "blueprint.yaml").read_text())
    load_blueprint(data)  # the core accepts it
    return data


def _bp(data: dict[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in data.items() if k != "name"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Blueprint",
        "metadata": {"name": f"{data['name']}-{uuid.uuid4().hex[:6]}"},
        "spec": spec,
    }


@pytest.mark.api
def test_blueprint_the_core_accepts_is_accepted_by_the_api_server(custom: Any) -> None:
    data = _example_blueprint()
    assert _create(custom, "blueprints", _bp(data))["spec"]["services"]
    # The core's own encoding (every default spelled out) is valid too.
    assert _create(custom, "blueprints", _bp(encode(load_blueprint(data))))


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_example_blueprint())
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.api
@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(["services"], [], "spec.services", id="no-services"),
        pytest.param(["services", 0, "port"], 70000, "spec.services[0].port", id="port-too-big"),
        pytest.param(["routingMode"], "some", "spec.routingMode", id="mode-not-in-enum"),
        pytest.param(["ttl"], "7 days", "spec.ttl", id="ttl-not-a-duration"),
        pytest.param(["pool", "hours", 0, "hour"], 24, "spec.pool.hours[0].hour", id="hour-24"),
        pytest.param(["repositories"], None, "spec.repositories", id="repositories-missing"),
        pytest.param(
            ["services", 0, "name"], "Orders", "spec.services[0].name", id="service-not-dns"
        ),
    ],
)
def test_invalid_blueprint_is_rejected_naming_the_field(
    custom: Any, path: list[Any], value: Any, field: str
) -> None:
    assert field in _rejected(custom, "blueprints", _bp(_broken(path, value)))
