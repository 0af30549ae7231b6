"""Pure manifests of the asynchronous data steps: database volumes and the two Jobs.

Volumes live in the pool namespace, next to the golden VolumeSnapshots they
are cloned from (a PVC's `dataSource` must be in its own namespace): warm
slots, and per-environment clones labelled with the environment that owns
them. Migration and masking Jobs run in the PR namespace, carry the step,
head SHA and attempt as labels, never retry on their own (the core decides
retries) and never receive the workloads' database credentials. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.core.schema import encode
from controller.core.types import EnvKey, Step
from controller.k8s import names
from controller.k8s.config import ShellConfig
from controller.k8s.render_namespace import env_labels, meta

Obj = dict[str, Any]

RESTRICTED_POD: Obj = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER: Obj = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def key_annotations(key: EnvKey) -> dict[str, str]:
    """Annotations from which an object's environment key is rebuilt (labels cannot hold '/')."""
    return {names.REPOSITORY_FULL: key.repository, names.NUMBER: str(key.number)}


def _pvc(
    name: str,
    namespace: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    *,
    snapshot: str | None,
    cfg: ShellConfig,
) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{cfg.volume_size_gi}Gi"}},
    }
    if cfg.storage_class:
        spec["storageClassName"] = cfg.storage_class
    if snapshot:
        spec["dataSource"] = {
            "apiGroup": "snapshot.storage.k8s.io",
            "kind": "VolumeSnapshot",
            "name": snapshot,
        }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name, namespace, labels, annotations),
        "spec": spec,
    }


def clone_pvc(
    key: EnvKey,
    *,
    namespace: str,
    attempt: int,
    generation: int,
    snapshot: str | None,
    blueprint: str,
    now: datetime,
    cfg: ShellConfig,
) -> Obj:
    """The environment's own database volume, cloned from the newest ready golden snapshot."""
    labels = {
        **env_labels(key, blueprint=blueprint),
        names.CLAIMED_BY: names.env_name(key),
        names.GENERATION: str(generation),
        names.ATTEMPT: str(attempt),
        names.COMPONENT: "clone",
    }
    annotations = {names.STARTED_AT: encode(now), names.DETAIL: "clone", **key_annotations(key)}
    return _pvc(
        names.clone_name(namespace, attempt),
        cfg.pool_namespace,
        labels,
        annotations,
        snapshot=snapshot,
        cfg=cfg,
    )


def slot_pvc(
    slot_id: str, *, generation: int, snapshot: str | None, blueprint: str, cfg: ShellConfig
) -> Obj:
    """One warm-pool slot: a clone made ahead of demand, unclaimed."""
    labels = {
        names.MANAGED_BY: "mayfly",
        names.BLUEPRINT: blueprint,
        names.SLOT: slot_id,
        names.GENERATION: str(generation),
        names.COMPONENT: "slot",
    }
    return _pvc(slot_id, cfg.pool_namespace, labels, {}, snapshot=snapshot, cfg=cfg)


def claim_patch(slot: Obj, key: EnvKey, *, now: datetime) -> Obj:
    """Apply body claiming a slot; its resourceVersion makes a double claim fail with 409."""
    md = slot["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": md["name"],
            "namespace": md["namespace"],
            "resourceVersion": md["resourceVersion"],
            "labels": {
                names.CLAIMED_BY: names.env_name(key),
                names.ENV: names.env_name(key),
                names.ATTEMPT: "1",
            },
            "annotations": {
                names.STARTED_AT: encode(now),
                names.DETAIL: f"slot:{md['name']}",
                **key_annotations(key),
            },
        },
    }


def job(
    key: EnvKey,
    step: Step,
    *,
    namespace: str,
    sha: str,
    databases: tuple[str, ...],
    attempt: int,
    blueprint: str,
    now: datetime,
    cfg: ShellConfig,
) -> Obj:
    """The migrations or masking Job of one attempt at one head SHA."""
    command = cfg.migrate_command if step is Step.MIGRATIONS else cfg.mask_command
    labels = {
        **env_labels(key, blueprint=blueprint),
        names.STEP: step.value,
        names.SHA: names.short_sha(sha),
        names.ATTEMPT: str(attempt),
    }
    annotations = {names.STARTED_AT: encode(now), names.SHA: sha}
    env = [
        {"name": "MAYFLY_SHA", "value": sha},
        {"name": "MAYFLY_DATABASES", "value": ",".join(databases)},
        {"name": "MAYFLY_REPOSITORY", "value": key.repository},
    ]
    pod_labels = {names.ENV: labels[names.ENV], names.STEP: step.value}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(names.job_name(step.value, sha, attempt), namespace, labels, annotations),
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": cfg.job_deadline(step),
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": RESTRICTED_POD,
                    "containers": [
                        {
                            "name": step.value,
                            "image": cfg.job_image,
                            "command": list(command),
                            "args": ["--databases", ",".join(databases), "--sha", sha],
                            "env": env,
                            "securityContext": RESTRICTED_CONTAINER,
                        }
                    ],
                },
            },
        },
    }
