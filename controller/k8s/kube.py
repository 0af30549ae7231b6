"""The one module that talks to the API server: apply, create, get, list, delete, watch.

A thin layer over the official client's `DynamicClient` (server-side apply
with field manager `mayfly`, raw JSON so large lists stay cheap) with a
static table of the kinds Mayfly touches, so no discovery round trip is
needed per call. Every failure leaves as a `controller.k8s.errors` type.
It renders nothing and decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from kubernetes import watch as k8s_watch
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient

from controller.k8s import names
from controller.k8s.errors import NotFoundError, classify

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Kind:
    """API coordinates of one resource type."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        tail = f"/{name}" if name else ""
        return f"{base}{ns}/{self.plural}{tail}"


PE = Kind(names.API_VERSION, names.PE_KIND, names.PE_PLURAL)
BLUEPRINT = Kind(names.API_VERSION, names.BP_KIND, names.BP_PLURAL)
NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
QUOTA = Kind("v1", "ResourceQuota", "resourcequotas")
LIMITS = Kind("v1", "LimitRange", "limitranges")
PVC = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
PV = Kind("v1", "PersistentVolume", "persistentvolumes", namespaced=False)
SERVICE = Kind("v1", "Service", "services")
CONFIGMAP = Kind("v1", "ConfigMap", "configmaps")
SECRET = Kind("v1", "Secret", "secrets")
SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts")
NETPOL = Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")
JOB = Kind("batch/v1", "Job", "jobs")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
SNAPSHOT = Kind("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "volumesnapshots")
VIRTUAL_SERVICE = Kind("networking.istio.io/v1", "VirtualService", "virtualservices")
DESTINATION_RULE = Kind("networking.istio.io/v1", "DestinationRule", "destinationrules")
SIDECAR = Kind("networking.istio.io/v1", "Sidecar", "sidecars")
LEASE = Kind("coordination.k8s.io/v1", "Lease", "leases")

KINDS = {
    k.kind: k
    for k in (
        PE, BLUEPRINT, NAMESPACE, QUOTA, LIMITS, PVC, PV, SERVICE, CONFIGMAP, SECRET,
        SERVICE_ACCOUNT, NETPOL, JOB, DEPLOYMENT, SNAPSHOT, VIRTUAL_SERVICE,
        DESTINATION_RULE, SIDECAR, LEASE,
    )
}  # fmt: skip


def kind_of(obj: Obj) -> Kind:
    return KINDS[obj["kind"]]


class WriteListener(Protocol):
    """Told of every successful write (an informer cache writing through)."""

    def written(self, obj: Obj) -> None: ...

    def gone(self, kind: Kind, name: str, namespace: str | None, obj: Obj | None) -> None: ...


class _NoDiscovery:
    """Mayfly addresses resources by its static table: skip the client's discovery calls."""

    def __init__(self, client: Any, cache_file: Any = None) -> None:
        self.client = client


class Kube:
    """API calls Mayfly makes; each returns plain dicts and raises the error family."""

    def __init__(self, api: ApiClient, *, timeout: float = 30.0) -> None:
        self.api = api
        self.dyn = DynamicClient(api, discoverer=_NoDiscovery)  # type: ignore[no-untyped-call]
        self.timeout = timeout
        self.listener: WriteListener | None = None

    def _written(self, data: Obj, kind: Kind) -> Obj:
        if self.listener is not None and data.get("metadata"):
            data.setdefault("apiVersion", kind.api_version)
            data.setdefault("kind", kind.kind)
            self.listener.written(data)
        return data

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Obj:
        try:
            resp = self.dyn.request(
                method, path, body=body, serialize=False, _request_timeout=self.timeout, **params
            )
        except Exception as exc:
            raise classify(exc) from exc
        data: Obj = orjson.loads(resp.data or b"{}")
        return data

    def apply(
        self,
        obj: Obj,
        *,
        manager: str = names.FIELD_MANAGER,
        force: bool = True,
        subresource: str = "",
    ) -> Obj:
        """Server-side apply `obj`; a `metadata.resourceVersion` in it is a precondition."""
        kind = kind_of(obj)
        meta = obj["metadata"]
        path = kind.path(meta.get("namespace"), meta["name"])
        if subresource:
            path = f"{path}/{subresource}"
        data = self._call(
            "patch",
            path,
            body=orjson.dumps(obj),  # bytes: sent as they are
            content_type="application/apply-patch+yaml",
            field_manager=manager,
            force_conflicts=force,
        )
        return self._written(data, kind)

    def create(self, obj: Obj, *, manager: str = names.FIELD_MANAGER) -> Obj:
        kind = kind_of(obj)
        path = kind.path(obj["metadata"].get("namespace"))
        return self._written(self._call("post", path, body=obj, field_manager=manager), kind)

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self._call("get", kind.path(namespace, name))
        except NotFoundError:
            return None

    def list(
        self, kind: Kind, *, namespace: str | None = None, selector: str | None = None
    ) -> tuple[list[Obj], str]:
        """All objects of `kind` (optionally in one namespace, by label), and the list's RV."""
        data = self._call("get", kind.path(namespace), label_selector=selector)
        items: list[Obj] = data.get("items", [])
        for item in items:  # lists omit these; keep objects self-describing
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items, str(data.get("metadata", {}).get("resourceVersion", ""))

    def delete(
        self,
        kind: Kind,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
        resource_version: str | None = None,
    ) -> bool:
        """Delete; True if something was deleted, False if it did not exist."""
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        try:
            data = self._call("delete", kind.path(namespace, name), body=body)
        except NotFoundError:
            if self.listener is not None:
                self.listener.gone(kind, name, namespace, None)
            return False
        if self.listener is not None:
            if data.get("kind") == kind.kind and (data.get("metadata") or {}).get(
                "deletionTimestamp"
            ):
                self._written(data, kind)  # still there until its finalizers run
            else:
                self.listener.gone(kind, name, namespace, data if data.get("metadata") else None)
        return True

    def watch(
        self, kind: Kind, *, resource_version: str, selector: str | None = None, timeout: int = 300
    ) -> Iterator[Obj]:
        """Raw watch events (type, object) from `resource_version`, bookmarks included."""
        watcher = k8s_watch.Watch()  # type: ignore[no-untyped-call]

        def lister(**kwargs: Any) -> Any:
            return self.dyn.request("get", kind.path(), **kwargs)

        try:
            yield from watcher.stream(  # type: ignore[no-untyped-call]
                lister,
                label_selector=selector,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout,
                serialize=False,
                _request_timeout=timeout + 30,
            )
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            watcher.stop()  # type: ignore[no-untyped-call]


def connect(kubeconfig: str | None = None, *, pool: int = 32) -> Kube:
    """A `Kube` from a kubeconfig file, $KUBECONFIG, or the in-cluster service account."""
    import os  # noqa: PLC0415

    from kubernetes import client, config  # noqa: PLC0415

    path = kubeconfig or os.environ.get("KUBECONFIG")
    configuration = client.Configuration()
    if path:
        config.load_kube_config(config_file=path, client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool
    return Kube(client.ApiClient(configuration))
