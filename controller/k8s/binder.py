"""TEST AND DEV ONLY: bind Mayfly's pending volume claims to pre-provisioned PersistentVolumes.

The local control plane has no storage provisioner and no CSI snapshotter,
so a claim would stay Pending forever. With `mayfly controller run
--dev-volume-binder`, this thread creates, for each Pending claim in the pool
namespace labelled `app.kubernetes.io/managed-by=mayfly`, a hostPath
PersistentVolume pre-bound to it (`claimRef`); kube-controller-manager's
PV binder then binds them, so the volume step completes through the real
binding path. Like a CSI external-provisioner (many worker threads), it
creates the volumes of one pass in parallel, and none twice. Like a
provisioner's StorageClass, it gives them reclaim policy `Delete`, and
deletes released or failed ones unless someone set `Retain` (a warm slot
being handed over to a PR namespace). Never enable it in production:
it ignores `dataSource` (the clone is empty) and needs to create
PersistentVolumes, which the production role may not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from controller.k8s import kube, names
from controller.k8s.errors import ConflictError, KubeError

log = logging.getLogger("mayfly.devbinder")


Fails = Callable[[kube.Obj], bool]
WORKERS = 8  # volumes created at once in one pass
SWEEP_EVERY = 10  # passes: released volumes are deleted at least this often


def bind_pending(
    api: kube.Kube, namespace: str, *, fails: Fails | None = None, sweep: bool = True
) -> int:
    """One pass: a PV for every pending claim; delete released ones. Returns PVs created.

    `fails(claim)` (tests: a storage fault) leaves that claim Pending, as a
    provisioner that cannot create the volume would. Without `sweep`, a pass
    with no pending claim ends after listing the claims (released volumes wait
    for the next sweep), so an idle binder does not list every volume twice a second.
    """
    claims, _ = api.list(kube.PVC, namespace=namespace, selector=f"{names.MANAGED_BY}=mayfly")
    pending = [
        pvc
        for pvc in claims
        if (pvc.get("status") or {}).get("phase") == "Pending"
        and not pvc["metadata"].get("deletionTimestamp")
        and not (fails is not None and fails(pvc))
    ]
    if not pending and not sweep:
        return 0
    wanted: list[kube.Obj] = []
    volumes, _ = api.list(kube.PV, selector=f"{names.MANAGED_BY}=mayfly-dev-binder")
    made = {vol["metadata"]["name"] for vol in volumes}
    for pvc in pending:
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        size = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
        pv_name = f"mayfly-dev-{md['uid'][:18]}"
        if pv_name in made:
            continue  # made by an earlier pass, not bound yet
        pv: kube.Obj = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "labels": {names.MANAGED_BY: "mayfly-dev-binder"}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": spec.get("storageClassName") or "",
                "hostPath": {"path": f"/tmp/mayfly-dev-volumes/{pv_name}"},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": md["namespace"],
                    "name": md["name"],
                    "uid": md["uid"],
                },
            },
        }
        wanted.append(pv)
    with ThreadPoolExecutor(min(WORKERS, max(1, len(wanted)))) as pool:
        created = sum(pool.map(lambda pv: _create(api, pv), wanted))
    for vol in volumes:
        if (vol.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Retain":
            continue  # kept on purpose: a hand-over in progress
        if (vol.get("status") or {}).get("phase") in ("Released", "Failed"):
            api.delete(kube.PV, vol["metadata"]["name"])
    return created


def _create(api: kube.Kube, pv: kube.Obj) -> bool:
    try:
        api.create(pv)
    except ConflictError:
        return False  # made by an earlier pass
    return True


def run(
    api: kube.Kube,
    namespace: str,
    stop: threading.Event,
    *,
    period: float = 0.5,
    fails: Fails | None = None,
) -> None:
    passes = 0
    while not stop.wait(period):
        try:
            bind_pending(api, namespace, fails=fails, sweep=passes % SWEEP_EVERY == 0)
            passes += 1
        except KubeError as exc:
            log.warning("event=dev_binder_failed status=%s", exc.status)
