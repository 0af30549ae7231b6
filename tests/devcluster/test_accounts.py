"""Service-account kubeconfigs of the test plane, against the real API server."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from controller.devcluster import ControlPlane, accounts, manifests


def _service_account(plane: ControlPlane) -> tuple[str, str]:
    namespace, name = f"acct-{uuid.uuid4().hex[:8]}", "robot"
    with contextlib.closing(plane.api_client()) as api:
        manifests.apply(
            api,
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": namespace},
                },
            ],
        )
    return namespace, name


def test_the_kubeconfig_authenticates_as_the_service_account_with_no_certificate(
    k8s_api: ControlPlane, tmp_path: Path
) -> None:
    namespace, name = _service_account(k8s_api)
    with contextlib.closing(k8s_api.api_client()) as admin:
        path = accounts.token_kubeconfig(
            admin, k8s_api.kubeconfig, tmp_path / "kc", namespace=namespace, name=name
        )
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert set(user) == {"token"}  # a client certificate would make the request the admin's
    assert path.stat().st_mode & 0o077 == 0
    api = config.new_client_from_config(str(path))  # type: ignore[no-untyped-call]
    with contextlib.closing(api):
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
        assert review.status is not None
        assert review.status.user_info is not None
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:{name}"
        with pytest.raises(client.ApiException) as denied:  # no RBAC granted: not an admin
            client.CoreV1Api(api).list_namespaced_config_map(namespace)
        assert denied.value.status == 403


def test_a_missing_service_account_is_an_error(k8s_api: ControlPlane, tmp_path: Path) -> None:
    namespace, _ = _service_account(k8s_api)
    with contextlib.closing(k8s_api.api_client()) as admin, pytest.raises(client.ApiException):
        accounts.token_kubeconfig(
            admin, k8s_api.kubeconfig, tmp_path / "kc", namespace=namespace, name="nobody"
        )
    assert not (tmp_path / "kc").exists()
