"""Least privilege, checked by the real API server.

RBAC through SubjectAccessReview for the controller's and the webhook's
service accounts; the admission policy that confines the controller's writes
to managed namespaces through dry-run requests made while impersonating it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.devcluster import ControlPlane, manifests

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONTROLLER = "system:serviceaccount:mayfly-system:mayfly-controller"
WEBHOOK = "system:serviceaccount:mayfly-system:mayfly-webhook"
MANAGED = "preview-rbac-42"
pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def admin(k8s_api: ControlPlane) -> Iterator[client.ApiClient]:
    with contextlib.closing(k8s_api.api_client()) as api:
        files = [DEPLOY / "namespace.yaml", *sorted((DEPLOY / "rbac").glob("*.yaml"))]
        manifests.apply(api, manifests.load_documents(files))
        managed = {"mayfly.dev/managed": "true"}
        for name, labels in ((MANAGED, managed), ("unmanaged-team-ns", {})):
            with contextlib.suppress(ApiException):
                client.CoreV1Api(api).create_namespace(
                    {"metadata": {"name": name, "labels": labels}}
                )
        _await_admission_policy(k8s_api)
        yield api


def _await_admission_policy(k8s_api: ControlPlane, timeout: float = 30.0) -> None:
    """The API server loads a new ValidatingAdmissionPolicy and its binding
    through an informer, so the policy is enforced a moment after it is
    created; wait until a write it forbids is refused."""
    with contextlib.closing(k8s_api.api_client()) as api:
        api.set_default_header("Impersonate-User", CONTROLLER)
        core = client.CoreV1Api(api)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                core.create_namespace({"metadata": {"name": "probe-unlabelled"}}, dry_run="All")
            except ApiException as refused:
                if refused.status == 403 and "mayfly.dev/managed=true" in str(refused.body):
                    return
                raise
            time.sleep(0.2)
    pytest.fail(
        f"the API server did not enforce deploy/rbac/controller-scope.yaml within {timeout} s;"
        " check that ValidatingAdmissionPolicy is enabled in the test control plane"
    )


def _allowed(api: client.ApiClient, user: str, verb: str, resource: str, ns: str | None) -> bool:
    """`resource` is kubectl-style: "plural[/subresource][.group][:name]"."""
    resource, _, resource_name = resource.partition(":")
    plural, _, group = resource.partition(".")
    plural, _, subresource = plural.partition("/")
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", "system:serviceaccounts:mayfly-system"],
            resource_attributes=client.V1ResourceAttributes(
                group=group,
                resource=plural,
                subresource=subresource or None,
                name=resource_name or None,
                verb=verb,
                namespace=ns,
            ),
        )
    )
    result = client.AuthorizationV1Api(api).create_subject_access_review(review)
    return bool(result.status.allowed)


CONTROLLER_MAY = [
    ("watch", "previewenvironments.mayfly.dev", "mayfly-system"),
    ("patch", "previewenvironments/status.mayfly.dev", "mayfly-system"),
    ("update", "previewenvironments/finalizers.mayfly.dev", "mayfly-system"),
    ("list", "blueprints.mayfly.dev", "mayfly-system"),
    ("create", "namespaces", None),
    ("delete", "namespaces", None),
    ("create", "secrets", MANAGED),
    ("create", "deployments.apps", MANAGED),
    ("create", "jobs.batch", MANAGED),
    ("create", "networkpolicies.networking.k8s.io", MANAGED),
    ("create", "volumesnapshots.snapshot.storage.k8s.io", MANAGED),
    ("patch", "virtualservices.networking.istio.io", MANAGED),
    ("create", "destinationrules.networking.istio.io", MANAGED),
    ("create", "sidecars.networking.istio.io", MANAGED),
    ("patch", "persistentvolumes", None),
    ("delete", "persistentvolumes", None),
    ("create", "leases.coordination.k8s.io", "mayfly-system"),
    ("update", "leases.coordination.k8s.io:mayfly-controller", "mayfly-system"),
]
CONTROLLER_MAY_NOT = [
    ("get", "secrets", "kube-system"),
    ("list", "secrets", "default"),
    ("watch", "secrets", None),
    ("get", "secrets", "mayfly-system"),
    ("list", "secrets", MANAGED),  # write-only even where it manages
    ("patch", "secrets", "kube-system"),
    ("update", "secrets", "kube-system"),
    ("delete", "secrets", "kube-system"),
    ("create", "rolebindings.rbac.authorization.k8s.io", MANAGED),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("bind", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "pods/exec", MANAGED),
    ("create", "pods", "kube-system"),
    ("patch", "nodes", None),
    ("create", "persistentvolumes", None),
    ("update", "leases.coordination.k8s.io:kube-scheduler", "mayfly-system"),
    ("create", "leases.coordination.k8s.io", "kube-system"),
    ("create", "previewenvironments.mayfly.dev", "mayfly-system"),
]
WEBHOOK_MAY = [
    ("create", "previewenvironments.mayfly.dev", "mayfly-system"),
    ("patch", "previewenvironments.mayfly.dev", "mayfly-system"),
    ("list", "blueprints.mayfly.dev", "mayfly-system"),
]
WEBHOOK_MAY_NOT = [
    ("create", "previewenvironments.mayfly.dev", "default"),
    ("patch", "previewenvironments/status.mayfly.dev", "mayfly-system"),
    ("get", "secrets", "mayfly-system"),
    ("create", "namespaces", None),
    ("delete", "previewenvironments.mayfly.dev", "mayfly-system"),
]


def _ids(cases: list[tuple[str, str, str | None]]) -> list[Any]:
    return [pytest.param(*c, id=f"{c[0]}-{c[1]}@{c[2] or 'cluster'}") for c in cases]


@pytest.mark.parametrize(("verb", "resource", "ns"), _ids(CONTROLLER_MAY))
def test_controller_can(admin: client.ApiClient, verb: str, resource: str, ns: str | None) -> None:
    assert _allowed(admin, CONTROLLER, verb, resource, ns)


@pytest.mark.parametrize(("verb", "resource", "ns"), _ids(CONTROLLER_MAY_NOT))
def test_controller_cannot(
    admin: client.ApiClient, verb: str, resource: str, ns: str | None
) -> None:
    assert not _allowed(admin, CONTROLLER, verb, resource, ns)


@pytest.mark.parametrize(("verb", "resource", "ns"), _ids(WEBHOOK_MAY))
def test_webhook_can(admin: client.ApiClient, verb: str, resource: str, ns: str | None) -> None:
    assert _allowed(admin, WEBHOOK, verb, resource, ns)


@pytest.mark.parametrize(("verb", "resource", "ns"), _ids(WEBHOOK_MAY_NOT))
def test_webhook_cannot(admin: client.ApiClient, verb: str, resource: str, ns: str | None) -> None:
    assert not _allowed(admin, WEBHOOK, verb, resource, ns)


@pytest.fixture
def as_controller(k8s_api: ControlPlane, admin: client.ApiClient) -> Iterator[client.CoreV1Api]:
    with contextlib.closing(k8s_api.api_client()) as api:
        api.set_default_header("Impersonate-User", CONTROLLER)
        yield client.CoreV1Api(api)


def _secret(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "stringData": {"password": "generated"}}


def test_controller_may_write_secrets_in_a_managed_namespace(as_controller: Any) -> None:
    created = as_controller.create_namespaced_secret(MANAGED, _secret("db"), dry_run="All")
    assert created.metadata.namespace == MANAGED


def test_controller_may_create_only_managed_namespaces(as_controller: Any) -> None:
    labelled = {"metadata": {"name": "preview-new", "labels": {"mayfly.dev/managed": "true"}}}
    assert as_controller.create_namespace(labelled, dry_run="All").metadata.name == "preview-new"
    with pytest.raises(ApiException) as denied:
        as_controller.create_namespace({"metadata": {"name": "sneaky"}}, dry_run="All")
    assert denied.value.status == 403
    assert "mayfly.dev/managed=true" in denied.value.body


def test_controller_may_relabel_its_namespaces_and_delete_previews(as_controller: Any) -> None:
    labels = {"metadata": {"labels": {"mayfly.dev/managed": "true", "x": "y"}}}
    for namespace in ("mayfly-system", MANAGED):
        patched = as_controller.patch_namespace(namespace, labels, dry_run="All")
        assert patched.metadata.labels["x"] == "y"
    as_controller.delete_namespace(MANAGED, dry_run="All")


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(
            lambda api: api.create_namespaced_secret("default", _secret("x"), dry_run="All"),
            id="secret-in-default",
        ),
        pytest.param(
            lambda api: api.create_namespaced_secret(
                "unmanaged-team-ns", _secret("x"), dry_run="All"
            ),
            id="secret-in-team-ns",
        ),
        pytest.param(
            lambda api: api.delete_namespace("mayfly-system", dry_run="All"),
            id="delete-mayfly-system",
        ),
        pytest.param(
            lambda api: api.delete_namespace("unmanaged-team-ns", dry_run="All"),
            id="delete-team-ns",
        ),
        pytest.param(
            lambda api: api.patch_namespace(
                "default", {"metadata": {"labels": {"mayfly.dev/managed": "true"}}}, dry_run="All"
            ),
            id="adopt-default-by-relabelling",
        ),
        pytest.param(
            lambda api: api.create_namespaced_config_map(
                "kube-system", {"metadata": {"name": "x"}}, dry_run="All"
            ),
            id="configmap-in-kube-system",
        ),
    ],
)
def test_admission_policy_confines_controller_writes(as_controller: Any, attempt: Any) -> None:
    with pytest.raises(ApiException) as denied:
        attempt(as_controller)
    assert denied.value.status == 403
    assert "mayfly-controller may only" in denied.value.body
