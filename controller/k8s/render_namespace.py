"""Pure manifests of a PR namespace's frame: Namespace, quota, limits, deny-production policy.

Everything the `CreateNamespace` action applies, as plain dicts ready for
server-side apply. Pod Security admission is `restricted`; egress is allowed
to every namespace except the blueprint's production namespaces (a
NetworkPolicy cannot deny, so it allows everything else). The frame's last
write marks the namespace `framed`: until then `observe` reads it as not
there yet, so a frame a crash cut short is written again. No I/O.
"""

from __future__ import annotations

from typing import Any

from controller.core.types import EnvKey
from controller.k8s import names
from controller.k8s.config import Quota

Obj = dict[str, Any]


def env_labels(key: EnvKey, *, blueprint: str) -> dict[str, str]:
    """Labels every object of an environment carries (selectable, no personal data)."""
    return {
        names.MANAGED_BY: "mayfly",
        names.ENV: names.env_name(key),
        names.BLUEPRINT: blueprint,
    }


def meta(
    name: str,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> Obj:
    out: Obj = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        out["namespace"] = namespace
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def namespace(key: EnvKey, name: str, *, team: str, owner: str, blueprint: str) -> Obj:
    labels = {
        **env_labels(key, blueprint=blueprint),
        names.MANAGED: "true",
        names.PR: str(key.number),
        names.REPO: names.label_value(key.repository.replace("/", "-")),
        names.TEAM: names.label_value(team),
        names.OWNER: names.label_value(owner) or "unknown",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        "istio-injection": "enabled",
    }
    annotations = {names.REPOSITORY_FULL: key.repository, names.NUMBER: str(key.number)}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(name, None, labels, annotations),
    }


def framed(ns: str) -> Obj:
    """The namespace's mark that its whole frame is written (applied last, own manager)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns, "annotations": {names.FRAMED: "true"}},
    }


def resource_quota(key: EnvKey, ns: str, quota: Quota, *, blueprint: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta("mayfly-quota", ns, env_labels(key, blueprint=blueprint)),
        "spec": {
            "hard": {
                "pods": str(quota.pods),
                "requests.cpu": quota.requests_cpu,
                "requests.memory": quota.requests_memory,
                "limits.cpu": quota.limits_cpu,
                "limits.memory": quota.limits_memory,
                "persistentvolumeclaims": str(quota.pvcs),
            }
        },
    }


def limit_range(key: EnvKey, ns: str, quota: Quota, *, blueprint: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta("mayfly-limits", ns, env_labels(key, blueprint=blueprint)),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {"cpu": quota.default_cpu, "memory": quota.default_memory},
                    "default": {
                        "cpu": quota.default_limit_cpu,
                        "memory": quota.default_limit_memory,
                    },
                }
            ]
        },
    }


def deny_production(key: EnvKey, ns: str, production: tuple[str, ...], *, blueprint: str) -> Obj:
    """Egress allowed to every namespace but production ones; no egress outside the cluster."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta("mayfly-deny-production", ns, env_labels(key, blueprint=blueprint)),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/metadata.name",
                                        "operator": "NotIn",
                                        "values": sorted(production),
                                    }
                                ]
                            }
                        }
                    ]
                }
            ],
        },
    }


def frame(
    key: EnvKey,
    ns: str,
    *,
    team: str,
    owner: str,
    blueprint: str,
    production: tuple[str, ...],
    quota: Quota,
) -> list[Obj]:
    """Everything `CreateNamespace` applies, namespace first."""
    return [
        namespace(key, ns, team=team, owner=owner, blueprint=blueprint),
        resource_quota(key, ns, quota, blueprint=blueprint),
        limit_range(key, ns, quota, blueprint=blueprint),
        deny_production(key, ns, production, blueprint=blueprint),
    ]
