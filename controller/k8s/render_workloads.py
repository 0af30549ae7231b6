"""Pure manifests of the deploy step: Deployments and Services of the in-PR services.

Only a workload whose service owns a database gets the credentials Secret,
and only when the deploy step renders it with `db_access` (after masking
succeeded: the core's GDPR gate). `RevokeDatabaseAccess` re-renders the same
workloads without the reference. A step marker ConfigMap records the run
(SHA, attempt, start) even when the plan has no service to deploy. No I/O.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from controller.core.blueprint import Blueprint, Service
from controller.core.schema import encode
from controller.core.types import EnvKey, Step
from controller.k8s import names
from controller.k8s.render_namespace import env_labels, meta
from controller.k8s.render_steps import RESTRICTED_CONTAINER, RESTRICTED_POD

Obj = dict[str, Any]


def pr_image(image: str, sha: str) -> str:
    """The image of a service built at the PR's head: same repository, tag = short SHA."""
    repo = image.rsplit("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    return f"{repo}:{names.short_sha(sha)}"


def step_marker(
    key: EnvKey,
    step: Step,
    *,
    namespace: str,
    sha: str,
    attempt: int,
    now: datetime,
    blueprint: str,
    objects: tuple[str, ...],
) -> Obj:
    labels = {**env_labels(key, blueprint=blueprint), names.STEP: step.value}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(names.step_marker(step.value), namespace, labels),
        "data": {
            "sha": sha,
            "attempt": str(attempt),
            "startedAt": encode(now),
            "objects": ",".join(objects),
        },
    }


def credentials(key: EnvKey, *, namespace: str, blueprint: str, databases: tuple[str, ...]) -> Obj:
    """The workloads' database credentials (created once, never read back)."""
    data = {"DATABASE_HOST": f"db.{namespace}.svc", "DATABASE_USER": "app"}
    data["DATABASE_PASSWORD"] = secrets.token_urlsafe(24)
    data["DATABASE_NAMES"] = ",".join(databases)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(names.DB_SECRET, namespace, env_labels(key, blueprint=blueprint)),
        "type": "Opaque",
        "stringData": data,
    }


def deployment(
    key: EnvKey,
    svc: Service,
    *,
    namespace: str,
    sha: str,
    attempt: int,
    blueprint: str,
    db_access: bool,
    progress_deadline: int,
    image_from_sha: bool = True,
) -> Obj:
    granted = db_access and svc.database is not None
    labels = {**env_labels(key, blueprint=blueprint), "app": svc.name}
    annotations = {
        names.SHA: sha,
        names.ATTEMPT: str(attempt),
        names.DB_ACCESS_SHA: sha if granted else "",
    }
    container: Obj = {
        "name": svc.name,
        "image": pr_image(svc.image, sha) if image_from_sha else svc.image,
        "ports": [{"containerPort": svc.port, "name": "http"}],
        "securityContext": RESTRICTED_CONTAINER,
    }
    if granted:
        container["envFrom"] = [{"secretRef": {"name": names.DB_SECRET}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(svc.name, namespace, labels, annotations),
        "spec": {
            "replicas": 1,
            "progressDeadlineSeconds": progress_deadline,
            "selector": {"matchLabels": {"app": svc.name}},
            "template": {
                "metadata": {
                    "labels": {"app": svc.name, names.ENV: labels[names.ENV]},
                    "annotations": {names.SHA: sha},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": RESTRICTED_POD,
                    "containers": [container],
                },
            },
        },
    }


def service(key: EnvKey, svc: Service, *, namespace: str, blueprint: str) -> Obj:
    labels = {**env_labels(key, blueprint=blueprint), "app": svc.name}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(svc.name, namespace, labels),
        "spec": {
            "selector": {"app": svc.name},
            "ports": [{"name": "http", "port": svc.port, "targetPort": svc.port}],
        },
    }


def workloads(
    key: EnvKey,
    bp: Blueprint,
    services: tuple[str, ...],
    *,
    namespace: str,
    sha: str,
    attempt: int,
    db_access: bool,
    progress_deadline: int,
) -> list[Obj]:
    """Deployments and Services of `services`, in name order."""
    out: list[Obj] = []
    for name in sorted(services):
        svc = bp.service(name)
        if svc is None:
            continue
        out.append(
            deployment(
                key,
                svc,
                namespace=namespace,
                sha=sha,
                attempt=attempt,
                blueprint=bp.name,
                db_access=db_access,
                progress_deadline=progress_deadline,
            )
        )
        out.append(service(key, svc, namespace=namespace, blueprint=bp.name))
    return out
