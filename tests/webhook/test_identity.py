"""The webhook's API client as the webhook's ServiceAccount (deploy/rbac/webhook.yaml),
against the real API server: every call of its hot path is allowed and nothing more,
the token reaches the server (not anonymous), and what `store.render` writes passes the
CRD with strict field validation (the client itself asks for none)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from controller.devcluster import ControlPlane, accounts, manifests
from controller.k8s import kube, names
from controller.k8s.errors import KubeError
from controller.webhook.apiserver import ApiServer
from controller.webhook.events import parse
from controller.webhook.payload import pull_request_payload
from controller.webhook.store import render
from loadtests.stack import webhook_rbac

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _body(namespace: str, sha: str) -> dict[str, object]:
    payload = pull_request_payload(
        action="opened", repository="acme/shop", number=7, head_sha=sha, updated_at=T0,
        created_at=T0, state="open", changed_paths=("services/orders/api.py",),
    )  # fmt: skip
    event = parse(payload, delivery=uuid.uuid4().hex, team="web")
    return render(None, event, event.pr, namespace=namespace, blueprint="shop",
                  resource_version=None)  # fmt: skip


@pytest.fixture
def identity(k8s_api: ControlPlane, tmp_path: Path) -> tuple[str, Path]:
    """A namespace with deploy/'s webhook RBAC, and a kubeconfig with the account's token."""
    namespace = f"wh-{uuid.uuid4().hex[:8]}"
    rbac = webhook_rbac(namespace)
    with contextlib.closing(k8s_api.api_client()) as api:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        manifests.apply(api, [ns, *rbac])
        path = accounts.token_kubeconfig(
            api, k8s_api.kubeconfig, tmp_path / "kc", namespace=namespace, name="mayfly-webhook"
        )
    return namespace, path


def test_the_hot_path_works_as_the_service_account(identity: tuple[str, Path]) -> None:
    namespace, path = identity
    cfg = kube.connect(str(path)).api.configuration

    async def main() -> None:
        api = ApiServer(cfg, namespace=namespace)
        other = ApiServer(cfg, namespace="default")
        await api.start()
        await other.start()
        try:
            body = _body(namespace, "ab" * 20)
            created = await api.create(body, manager=names.WEBHOOK_FIELD_MANAGER)
            body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]  # type: ignore[index]
            body["spec"]["headSha"] = "cd" * 20  # type: ignore[index]
            applied = await api.apply(body, manager=names.WEBHOOK_FIELD_MANAGER)
            assert applied["spec"]["headSha"] == "cd" * 20
            assert (await api.get(created["metadata"]["name"])) is not None
            items, _ = await api.list()
            assert [i["metadata"]["name"] for i in items] == [created["metadata"]["name"]]
            with pytest.raises(KubeError) as denied:  # the Role is namespaced: nothing beyond
                await other.list()
            assert denied.value.status == 403
            assert "system:serviceaccount" in str(denied.value)  # the token was sent
        finally:
            await api.stop()
            await other.stop()

    asyncio.run(main())


def test_rendered_objects_pass_strict_field_validation(k8s_api: ControlPlane) -> None:
    namespace = "default"
    with contextlib.closing(k8s_api.api_client()) as api:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            names.GROUP, names.VERSION, namespace, names.PE_PLURAL, _body(namespace, "ef" * 20),
            dry_run="All", field_validation="Strict",
        )  # fmt: skip
