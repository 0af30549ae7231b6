"""Pure manifests of a route plan: Istio VirtualService, DestinationRule and Sidecar.

For every call from an in-PR service to a service that stays outside the
namespace (stable baseline or shared), a VirtualService in the PR namespace
sends the short host name to the baseline namespace. Every in-PR service gets
a DestinationRule (mutual TLS). The Sidecar limits egress to the PR
namespace, the destinations the plan names and istio-system, with
REGISTRY_ONLY outbound traffic, so a production namespace is never
reachable; `render` refuses a plan whose routes name a denied namespace.
No I/O.
"""

from __future__ import annotations

from typing import Any

from controller.core.routing import RoutePlan, RouteTarget
from controller.core.types import EnvKey
from controller.k8s.render_namespace import env_labels, meta

Obj = dict[str, Any]
ISTIO = "networking.istio.io/v1"


class DeniedRouteError(ValueError):
    """A route plan names a production namespace: a bug upstream, never rendered."""


def _fqdn(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.svc.cluster.local"


def render(key: EnvKey, plan: RoutePlan, *, blueprint: str) -> list[Obj]:
    """Every Istio object of the plan (VirtualServices, DestinationRules, the Sidecar)."""
    ns = plan.namespace
    labels = env_labels(key, blueprint=blueprint)
    out: list[Obj] = []
    outside: dict[str, str] = {}
    for route in plan.routes:
        if route.namespace in plan.denied_namespaces:
            raise DeniedRouteError(f"route to denied namespace {route.namespace}")
        if route.target is not RouteTarget.PR_NAMESPACE:
            outside[route.destination] = route.namespace
    for dest, dest_ns in sorted(outside.items()):
        out.append(
            {
                "apiVersion": ISTIO,
                "kind": "VirtualService",
                "metadata": meta(f"to-{dest}", ns, labels),
                "spec": {
                    "hosts": [dest, _fqdn(dest, ns)],
                    "exportTo": ["."],
                    "http": [{"route": [{"destination": {"host": _fqdn(dest, dest_ns)}}]}],
                },
            }
        )
    for name in plan.in_pr:
        out.append(
            {
                "apiVersion": ISTIO,
                "kind": "DestinationRule",
                "metadata": meta(name, ns, labels),
                "spec": {
                    "host": _fqdn(name, ns),
                    "exportTo": ["."],
                    "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
                },
            }
        )
    hosts = ["./*", "istio-system/*"]
    hosts += [f"{dest_ns}/{_fqdn(dest, dest_ns)}" for dest, dest_ns in sorted(outside.items())]
    out.append(
        {
            "apiVersion": ISTIO,
            "kind": "Sidecar",
            "metadata": meta("default", ns, labels),
            "spec": {
                "egress": [{"hosts": hosts}],
                "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            },
        }
    )
    return out
