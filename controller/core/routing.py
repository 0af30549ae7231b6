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
import re
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class _PathIndex:
    """Compiled path globs of one blueprint: (name, pattern) for services and databases."""

    services: tuple[tuple[str, re.Pattern[str]], ...]
    databases: tuple[tuple[str, re.Pattern[str]], ...]
    memo: dict[tuple[str, ...], tuple[str, ...]]
    service_memo: dict[tuple[str, ...], tuple[str, ...]]
    placements: dict[tuple[object, ...], _Placement | RoutingError]
    plans: dict[tuple[object, ...], RoutePlan]  # by placement key and namespace
    # graph walks, by service: callers outside the shared services, and callees
    callers: dict[str, frozenset[str]] = field(default_factory=dict)
    callees: dict[str, frozenset[str]] = field(default_factory=dict)


_INDEXES: dict[int, tuple[Blueprint, _PathIndex]] = {}


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns) or "(?!)")


def _index(blueprint: Blueprint) -> _PathIndex:
    """Memoised by identity: hashing a whole blueprint on every call would cost more."""
    entry = _INDEXES.get(id(blueprint))
    if entry is not None and entry[0] is blueprint:
        return entry[1]
    index = _PathIndex(
        services=tuple((s.name, _compile(s.paths)) for s in blueprint.services if s.paths),
        databases=tuple(
            (d.name, _compile((*d.migrations, d.masking_rules))) for d in blueprint.databases
        ),
        memo={},
        service_memo={},
        placements={},
        plans={},
    )
    if len(_INDEXES) >= 32:
        _INDEXES.clear()
    _INDEXES[id(blueprint)] = (blueprint, index)
    return index


def services_for_paths(blueprint: Blueprint, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Services owning any of the changed paths (glob match), sorted."""
    index = _index(blueprint)
    return _memoised(index.service_memo, paths, index.services)


def databases_for_paths(blueprint: Blueprint, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Databases whose migrations or masking rules are changed by the paths, sorted."""
    index = _index(blueprint)
    return _memoised(index.memo, paths, index.databases)


def _memoised(
    memo: dict[tuple[str, ...], tuple[str, ...]],
    paths: tuple[str, ...],
    patterns: tuple[tuple[str, re.Pattern[str]], ...],
) -> tuple[str, ...]:
    """Names whose pattern matches any path, sorted; memoised by the paths."""
    hit = memo.get(paths)
    if hit is None:
        hit = tuple(sorted({name for name, rx in patterns if any(rx.match(p) for p in paths)}))
        if len(memo) >= 65536:
            memo.clear()
        memo[paths] = hit
    return hit


@dataclass(frozen=True, slots=True)
class _Placement:
    """The namespace-independent part of a route plan."""

    mode: RoutingMode
    in_pr: tuple[str, ...]
    baseline: tuple[str, ...]
    shared: tuple[str, ...]
    edges: tuple[tuple[str, str, RouteTarget], ...]
    reasons: tuple[tuple[str, str], ...]


def plan_routes(
    blueprint: Blueprint,
    *,
    namespace: str,
    changed_services: tuple[str, ...],
    changed_databases: tuple[str, ...] = (),
    mode: RoutingMode | None = None,
) -> RoutePlan:
    """Place every service and route every call out of the PR namespace."""
    mode = mode or blueprint.routing_mode
    cache = _index(blueprint).placements
    memo_key = (tuple(changed_services), tuple(changed_databases), mode)
    placement = cache.get(memo_key)
    if placement is None:
        try:
            placement = _place(blueprint, changed_services, changed_databases, mode)
        except RoutingError as exc:
            placement = exc
        if len(cache) >= 4096:
            cache.clear()
        cache[memo_key] = placement
    if isinstance(placement, RoutingError):
        raise RoutingError(placement.kind, str(placement))
    plans = _index(blueprint).plans
    plan = plans.get((memo_key, namespace))
    if plan is None:
        if len(plans) >= 4096:
            plans.clear()
        plan = plans[memo_key, namespace] = _route_plan(blueprint, placement, namespace)
    return plan


def _route_plan(blueprint: Blueprint, placement: _Placement, namespace: str) -> RoutePlan:
    targets = {RouteTarget.PR_NAMESPACE: namespace}
    routes = tuple(
        Route(src, dst, target, targets.get(target, blueprint.baseline_namespace))
        for src, dst, target in placement.edges
    )
    return RoutePlan(
        namespace=namespace,
        mode=placement.mode,
        in_pr=placement.in_pr,
        baseline=placement.baseline,
        shared=placement.shared,
        routes=routes,
        reasons=placement.reasons,
        baseline_namespace=blueprint.baseline_namespace,
        denied_namespaces=blueprint.production_namespaces,
    )


def _place(
    blueprint: Blueprint,
    changed_services: tuple[str, ...],
    changed_databases: tuple[str, ...],
    mode: RoutingMode,
) -> _Placement:
    graph = service_graph(blueprint)
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
    walks = _index(blueprint)
    _check_shared(graph, shared=shared, changed=changed, pr_data=set(db_owners), walks=walks)
    if mode is RoutingMode.FULL:
        in_pr = set(graph.nodes) - shared
        for name in in_pr - changed:
            reasons[name] = "full mode: every service that is not shared runs in the PR"
    else:
        in_pr = set(changed)
        # calls through a shared service reach its stable build, never the PR's
        for name in sorted(changed):
            callers = walks.callers.get(name)
            if callers is None:
                private = graph.subgraph(n for n in graph.nodes if n not in shared)
                callers = walks.callers[name] = frozenset(nx.ancestors(private, name))
            for caller in sorted(callers):
                if caller not in in_pr:
                    in_pr.add(caller)
                    reasons[caller] = f"calls {name} (transitively), which runs in the PR"
    for name in graph.nodes:
        if name in shared:
            reasons[name] = "shared stable service: always routed to its stable deployment"
        elif name not in in_pr:
            reasons[name] = "not affected: routed to the stable baseline"
    edges = []
    for source in sorted(in_pr):
        for dest in sorted(graph.successors(source)):
            if dest in in_pr:
                edges.append((source, dest, RouteTarget.PR_NAMESPACE))
            elif dest in shared:
                edges.append((source, dest, RouteTarget.SHARED))
            else:
                edges.append((source, dest, RouteTarget.BASELINE))
    return _Placement(
        mode=mode,
        in_pr=tuple(sorted(in_pr)),
        baseline=tuple(sorted(set(graph.nodes) - in_pr - shared)),
        shared=tuple(sorted(shared)),
        edges=tuple(edges),
        reasons=tuple(sorted(reasons.items())),
    )


def _check_shared(
    graph: nx.DiGraph,
    *,
    shared: set[str],
    changed: set[str],
    pr_data: set[str],
    walks: _PathIndex,
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
        callees = walks.callees.get(name)
        if callees is None:
            callees = walks.callees[name] = frozenset(nx.descendants(graph, name))
        needs = sorted(callees & pr_data)
        if needs:
            raise RoutingError(
                RoutingErrorKind.SHARED_NEEDS_PR_DATA,
                f"shared service {name!r} calls {needs[0]!r}, whose database is migrated by "
                "this pull request, so it would need PR-only data; remove it from "
                "sharedServices or keep the migration out of this pull request",
            )
