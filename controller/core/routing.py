"""Route plans: which services run in the PR namespace and where every call goes.

Pure: from a blueprint's service graph (networkx), the PR's changed paths and
the namespace, compute placement and routes as data. The Kubernetes shell
renders the plan as Istio VirtualService / DestinationRule / Sidecar objects
and a NetworkPolicy; this module knows nothing about those objects.

Errors a user can fix (a cycle in the call graph, unknown services, a shared
service that would need PR-only data) raise `RoutingError` with a message
saying what to change.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import networkx as nx

from controller.core.blueprint import Blueprint, RoutingMode


class RouteTarget(StrEnum):
    """Where a call from a PR-namespace service is sent."""

    PR_NAMESPACE = "pr"
    BASELINE = "baseline"
    SHARED = "shared"


class RoutingErrorKind(StrEnum):
    CYCLE = "cycle"
    UNKNOWN_SERVICE = "unknown-service"
    SHARED_NEEDS_PR_DATA = "shared-needs-pr-data"


class RoutingError(ValueError):
    """The blueprint and the change cannot give a valid route plan."""

    def __init__(self, kind: RoutingErrorKind, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Route:
    """One call edge from a service in the PR namespace."""

    source: str
    destination: str
    target: RouteTarget
    namespace: str


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Placement of every service and the routes of the PR namespace."""

    namespace: str
    mode: RoutingMode
    in_pr: tuple[str, ...]
    baseline: tuple[str, ...]
    shared: tuple[str, ...]
    routes: tuple[Route, ...]
    reasons: tuple[tuple[str, str], ...]
    baseline_namespace: str
    denied_namespaces: tuple[str, ...]

    def reason(self, service: str) -> str:
        return dict(self.reasons).get(service, "")


@lru_cache(maxsize=64)
def service_graph(blueprint: Blueprint) -> nx.DiGraph:
    """Directed call graph: an edge caller -> callee. Raises on cycles and unknown names."""
    graph = nx.DiGraph()
    for svc in blueprint.services:
        graph.add_node(svc.name, team=svc.team, database=svc.database)
    for svc in blueprint.services:
        for callee in svc.calls:
            if callee not in graph:
                raise RoutingError(
                    RoutingErrorKind.UNKNOWN_SERVICE,
                    f"service {svc.name!r} calls unknown service {callee!r}; "
                    "declare it under services or remove the call",
                )
            graph.add_edge(svc.name, callee)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    path = " -> ".join([str(edge[0]) for edge in cycle] + [str(cycle[0][0])])
    raise RoutingError(
        RoutingErrorKind.CYCLE,
        f"the service call graph has a cycle ({path}); calls must form a DAG so routes "
        "can be planned: break the cycle in the blueprint",
    )


def services_for_paths(blueprint: Blueprint, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Services owning any of the changed paths (glob match), sorted."""
    hit = {
        svc.name
        for svc in blueprint.services
        for pattern in svc.paths
        if any(fnmatch.fnmatchcase(path, pattern) for path in paths)
    }
    return tuple(sorted(hit))


def databases_for_paths(blueprint: Blueprint, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Databases whose migrations or masking rules are changed by the paths, sorted."""
    hit = {
        db.name
        for db in blueprint.databases
        for pattern in (*db.migrations, db.masking_rules)
        if any(fnmatch.fnmatchcase(path, pattern) for path in paths)
    }
    return tuple(sorted(hit))


def plan_routes(
    blueprint: Blueprint,
    *,
    namespace: str,
    changed_services: tuple[str, ...],
    changed_databases: tuple[str, ...] = (),
    mode: RoutingMode | None = None,
) -> RoutePlan:
    """Place every service and route every call out of the PR namespace."""
    graph = service_graph(blueprint)
    mode = mode or blueprint.routing_mode
    for name in changed_services:
        if name not in graph:
            raise RoutingError(
                RoutingErrorKind.UNKNOWN_SERVICE,
                f"changed service {name!r} is not in blueprint {blueprint.name!r}; "
                f"expected one of {sorted(graph.nodes)}",
            )
    shared = set(blueprint.shared_services)
    reasons: dict[str, str] = {}
    db_owners = {
        svc.name: svc.database
        for svc in blueprint.services
        if svc.database is not None and svc.database in changed_databases
    }
    changed = set(changed_services) | set(db_owners)
    for name in sorted(changed):
        why = "its migrations changed" if name in db_owners else "changed by the pull request"
        reasons[name] = why
    _check_shared(graph, shared=shared, changed=changed, pr_data=set(db_owners))
    if mode is RoutingMode.FULL:
        in_pr = set(graph.nodes) - shared
        for name in in_pr - changed:
            reasons[name] = "full mode: every service that is not shared runs in the PR"
    else:
        in_pr = set(changed)
        for name in sorted(changed):
            for caller in sorted(nx.ancestors(graph, name)):
                if caller not in in_pr and caller not in shared:
                    in_pr.add(caller)
                    reasons[caller] = f"calls {name} (transitively), which runs in the PR"
    for name in graph.nodes:
        if name in shared:
            reasons[name] = "shared stable service: always routed to its stable deployment"
        elif name not in in_pr:
            reasons[name] = "not affected: routed to the stable baseline"
    routes = []
    for source in sorted(in_pr):
        for dest in sorted(graph.successors(source)):
            if dest in in_pr:
                routes.append(Route(source, dest, RouteTarget.PR_NAMESPACE, namespace))
            elif dest in shared:
                routes.append(Route(source, dest, RouteTarget.SHARED, blueprint.baseline_namespace))
            else:
                routes.append(
                    Route(source, dest, RouteTarget.BASELINE, blueprint.baseline_namespace)
                )
    return RoutePlan(
        namespace=namespace,
        mode=mode,
        in_pr=tuple(sorted(in_pr)),
        baseline=tuple(sorted(set(graph.nodes) - in_pr - shared)),
        shared=tuple(sorted(shared)),
        routes=tuple(routes),
        reasons=tuple(sorted(reasons.items())),
        baseline_namespace=blueprint.baseline_namespace,
        denied_namespaces=blueprint.production_namespaces,
    )


def _check_shared(
    graph: nx.DiGraph, *, shared: set[str], changed: set[str], pr_data: set[str]
) -> None:
    """A shared service may not be changed, nor own or call PR-only data."""
    for name in sorted(shared & changed):
        what = "owns a database whose migrations" if name in pr_data else "is"
        raise RoutingError(
            RoutingErrorKind.SHARED_NEEDS_PR_DATA,
            f"shared service {name!r} {what} changed by this pull request, but shared "
            "services always run their stable build; remove it from sharedServices to "
            "preview this change",
        )
    for name in sorted(shared):
        needs = sorted(nx.descendants(graph, name) & pr_data)
        if needs:
            raise RoutingError(
                RoutingErrorKind.SHARED_NEEDS_PR_DATA,
                f"shared service {name!r} calls {needs[0]!r}, whose database is migrated by "
                "this pull request, so it would need PR-only data; remove it from "
                "sharedServices or keep the migration out of this pull request",
            )
