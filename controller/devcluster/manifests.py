"""Apply YAML manifests to a control plane with server-side apply.

Used by `mayfly dev cluster up` (install the CRDs) and by the tests (server-
side dry runs of everything in deploy/). Kinds are resolved through API
discovery, so custom resources work once their CRD is established. This
module decides nothing about which manifests matter.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, dynamic

FIELD_MANAGER = "mayfly-devcluster"
# The dynamic client caches discovery in a file; keep ours private to this
# process (and removed at exit) instead of littering the shared /tmp.
_DISCOVERY_CACHE = tempfile.TemporaryDirectory(prefix="mayfly-discovery-")


def load_documents(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every non-empty YAML document of `paths` (kustomization files excluded)."""
    for path in paths:
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield doc


def manifest_files(directory: Path) -> list[Path]:
    """The YAML files under `directory`, sorted for a stable order."""
    return sorted(p for p in directory.rglob("*.yaml") if p.is_file())


def apply(
    api: client.ApiClient,
    docs: Iterable[dict[str, Any]],
    *,
    dry_run: bool = False,
    field_manager: str = FIELD_MANAGER,
) -> list[Any]:
    """Server-side apply each document; return what the server answered."""
    host = hashlib.sha256(api.configuration.host.encode()).hexdigest()[:16]
    cache = Path(_DISCOVERY_CACHE.name) / f"{host}.json"
    dyn = dynamic.DynamicClient(api, cache_file=str(cache))  # type: ignore[no-untyped-call]
    results = []
    for doc in docs:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        kwargs: dict[str, Any] = {
            "body": doc,
            "name": doc["metadata"]["name"],
            "field_manager": field_manager,
            "force_conflicts": True,
        }
        if resource.namespaced:
            kwargs["namespace"] = doc["metadata"].get("namespace", "default")
        if dry_run:
            kwargs["dry_run"] = "All"
        results.append(resource.server_side_apply(**kwargs))
    return results


def wait_established(api: client.ApiClient, names: Iterable[str], *, timeout: float = 60) -> None:
    """Wait until each CustomResourceDefinition in `names` is Established."""
    ext = client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = ext.read_custom_resource_definition(name)
            status = crd.status or client.V1CustomResourceDefinitionStatus()
            conditions = {c.type: c.status for c in (status.conditions or [])}
            if conditions.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established after {timeout} s")
            time.sleep(0.1)


def install_crds(api: client.ApiClient, directories: Iterable[Path]) -> list[str]:
    """Apply every CRD under `directories` and wait for them; return their names."""
    docs = [
        doc
        for directory in directories
        for doc in load_documents(manifest_files(directory))
        if doc.get("kind") == "CustomResourceDefinition"
    ]
    apply(api, docs)
    names = [doc["metadata"]["name"] for doc in docs]
    wait_established(api, names)
    return names
