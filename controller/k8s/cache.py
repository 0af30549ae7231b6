"""An informer-style cache: the objects the watches deliver, plus every write's response.

The watches (controller/k8s/watch.py) fill it: a list replaces a kind's
contents, then ADDED/MODIFIED/DELETED events update it. The API calls of
`kube.Kube` write through it: each apply/create response is stored and each
delete is recorded, so a cycle that reads the cache sees the effect of every
write this process made before (the core's actions contract) without
listing anything. Objects are ordered by resourceVersion: an event older than
what is stored (a watch lagging behind a write) never overwrites it, and a
tombstone keeps a late event from resurrecting a deleted object.

`snapshot` selects one Blueprint's objects exactly as `observe.fetch` lists
them. The cache stores and selects; it decides nothing and never calls the
API server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from controller.core.blueprint import Blueprint
from controller.k8s import kube, names
from controller.k8s.config import ShellConfig
from controller.k8s.observe import Snapshot
from controller.k8s.records import labels_of, meta_of

Obj = dict[str, Any]
Ref = tuple[str, str]  # (namespace or "", name)

#: the kinds a cycle reads, each watched with this label selector (None: all)
CACHED: dict[str, str | None] = {
    kube.PE.kind: None,
    kube.NAMESPACE.kind: f"{names.MANAGED}=true",
    kube.PVC.kind: f"{names.MANAGED_BY}=mayfly",
    kube.JOB.kind: f"{names.MANAGED_BY}=mayfly",
    kube.DEPLOYMENT.kind: f"{names.MANAGED_BY}=mayfly",
    kube.CONFIGMAP.kind: names.STEP,
    kube.SNAPSHOT.kind: names.GOLDEN,
}


def _rv(obj: Obj) -> int:
    """The object's resourceVersion as a number; -1 when absent or not numeric (never stale)."""
    value = str(meta_of(obj).get("resourceVersion", ""))
    return int(value) if value.isdigit() else -1


def _ref(obj: Obj) -> Ref:
    md = meta_of(obj)
    return str(md.get("namespace") or ""), str(md.get("name", ""))


class Cache:
    """Thread-safe store of the cached kinds, ordered by resourceVersion."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objs: dict[str, dict[Ref, Obj]] = {k: {} for k in CACHED}
        self._gone: dict[str, dict[Ref, int]] = {k: {} for k in CACHED}
        self._synced: dict[str, threading.Event] = {k: threading.Event() for k in CACHED}

    # -- fed by watches -------------------------------------------------------
    def replace(self, kind: str, items: Iterable[Obj], list_rv: str) -> None:
        """A fresh list of `kind`: keep only newer write-through entries besides it."""
        if kind not in self._objs:
            return
        floor = int(list_rv) if list_rv.isdigit() else -1
        fresh = {_ref(o): o for o in items}
        with self._lock:
            for ref, obj in self._objs[kind].items():
                if ref not in fresh and _rv(obj) > floor:
                    fresh[ref] = obj  # written after the list was taken
            self._objs[kind] = fresh
            self._gone[kind] = {r: v for r, v in self._gone[kind].items() if v > floor}
        self._synced[kind].set()

    def upsert(self, obj: Obj) -> None:
        kind = obj.get("kind", "")
        if kind not in self._objs:
            return
        ref, rv = _ref(obj), _rv(obj)
        with self._lock:
            stored = self._objs[kind].get(ref)
            if stored is not None and rv != -1 and _rv(stored) > rv:
                return  # an event older than a write already stored
            if rv != -1 and self._gone[kind].get(ref, -1) >= rv:
                return  # deleted since
            self._gone[kind].pop(ref, None)
            self._objs[kind][ref] = obj

    def remove(self, kind: str, namespace: str | None, name: str, rv: int = -1) -> None:
        if kind not in self._objs:
            return
        ref = (namespace or "", name)
        with self._lock:
            stored = self._objs[kind].get(ref)
            if stored is not None and rv != -1 and _rv(stored) > rv:
                return  # re-created after this deletion
            self._objs[kind].pop(ref, None)
            last = max(rv, _rv(stored) if stored is not None else -1)
            self._gone[kind][ref] = max(last, self._gone[kind].get(ref, -1))

    def deleted(self, obj: Obj) -> None:
        """A DELETED watch event."""
        ns, name = _ref(obj)
        self.remove(obj.get("kind", ""), ns, name, _rv(obj))

    def mark_synced(self, kind: str) -> None:
        """`kind` cannot be listed (e.g. no VolumeSnapshot CRD): treat it as empty."""
        self._synced[kind].set()

    def wait_synced(self, timeout: float) -> bool:
        return all(event.wait(timeout) for event in self._synced.values())

    # -- write-through (kube.WriteListener) -------------------------------------
    def written(self, obj: Obj) -> None:
        self.upsert(obj)

    def gone(self, kind: kube.Kind, name: str, namespace: str | None, obj: Obj | None) -> None:
        self.remove(kind.kind, namespace if kind.namespaced else None, name, _rv(obj or {}))

    # -- read -----------------------------------------------------------------------
    def items(self, kind: kube.Kind) -> list[Obj]:
        with self._lock:
            return list(self._objs[kind.kind].values())

    def snapshot(self, bp: Blueprint, cfg: ShellConfig) -> Snapshot:
        """What `observe.fetch` would list for `bp`, from the cache."""
        repos = set(bp.repositories)

        def mine(obj: Obj, *, namespace: str | None = None, label: str | None = None) -> bool:
            labels = labels_of(obj)
            if labels.get(names.BLUEPRINT) != bp.name:
                return False
            if namespace is not None and meta_of(obj).get("namespace") != namespace:
                return False
            return label is None or label in labels

        return Snapshot(
            pes=[
                o
                for o in self.items(kube.PE)
                if meta_of(o).get("namespace") == cfg.namespace
                and (o.get("spec") or {}).get("repository") in repos
            ],
            namespaces=[
                o
                for o in self.items(kube.NAMESPACE)
                if mine(o) and labels_of(o).get(names.MANAGED) == "true"
            ],
            volumes=[o for o in self.items(kube.PVC) if mine(o)],  # pool and PR namespaces
            jobs=[o for o in self.items(kube.JOB) if mine(o)],
            deployments=[o for o in self.items(kube.DEPLOYMENT) if mine(o)],
            markers=[o for o in self.items(kube.CONFIGMAP) if mine(o, label=names.STEP)],
            snapshots=[
                o
                for o in self.items(kube.SNAPSHOT)
                if meta_of(o).get("namespace") == cfg.pool_namespace
                and names.GOLDEN in labels_of(o)
            ],
        )
