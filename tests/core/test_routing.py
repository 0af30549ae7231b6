"""Route plans on the example blueprint and on small graphs; errors users can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.blueprint_file import read_blueprint
from controller.core.blueprint import Blueprint, RoutingMode
from controller.core.routing import (
    RouteTarget,
    RoutingError,
    RoutingErrorKind,
    databases_for_paths,
    plan_routes,
    services_for_paths,
)
from tests.core.world import BLUEPRINT_DOC, blueprint

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "blueprint.yaml"


@pytest.fixture(scope="module")
def shop() -> Blueprint:
    return read_blueprint(EXAMPLE)


@pytest.mark.parametrize(
    ("changed", "mode", "in_pr"),
    [
        pytest.param(
            ("tax",),
            RoutingMode.AFFECTED,
            {"tax", "checkout", "gateway", "web", "mobile-bff"},
            id="leaf",
        ),
        pytest.param(("web",), RoutingMode.AFFECTED, {"web"}, id="entry-point-only"),
        pytest.param((), RoutingMode.AFFECTED, set(), id="docs-only"),
        pytest.param(
            ("sessions",), RoutingMode.AFFECTED, {"sessions"}, id="shared-caller-stays-stable"
        ),
    ],
)
def test_affected_mode(
    shop: Blueprint, changed: tuple[str, ...], mode: RoutingMode, in_pr: set[str]
) -> None:
    plan = plan_routes(shop, namespace="pr-1", changed_services=changed, mode=mode)
    assert set(plan.in_pr) == in_pr
    assert set(plan.shared) == {"auth", "payments"}
    assert set(plan.in_pr) | set(plan.baseline) | set(plan.shared) == {
        s.name for s in shop.services
    }


def test_full_mode_runs_everything_but_shared(shop: Blueprint) -> None:
    plan = plan_routes(shop, namespace="pr-1", changed_services=("tax",), mode=RoutingMode.FULL)
    assert set(plan.in_pr) == {s.name for s in shop.services} - {"auth", "payments"}
    assert plan.baseline == ()


def test_routes_stay_inside_or_go_to_listed_shared(shop: Blueprint) -> None:
    plan = plan_routes(shop, namespace="pr-7", changed_services=("orders",))
    for route in plan.routes:
        assert route.source in plan.in_pr
        if route.target is RouteTarget.PR_NAMESPACE:
            assert route.namespace == "pr-7"
            assert route.destination in plan.in_pr
        elif route.target is RouteTarget.SHARED:
            assert route.destination in shop.shared_services
        assert route.namespace not in shop.production_namespaces
    assert plan.denied_namespaces == ("production", "production-data")
    assert "changed" in plan.reason("orders")


def test_paths_and_migrations_map_to_services(shop: Blueprint) -> None:
    paths = ("services/orders/migrations/V7__add_email.sql", "frontend/web/app.ts")
    assert services_for_paths(shop, paths) == ("orders", "web")
    assert databases_for_paths(shop, paths) == ("orders",)
    plan = plan_routes(
        shop, namespace="pr-1", changed_services=("web",), changed_databases=("orders",)
    )
    assert "orders" in plan.in_pr
    assert plan.reason("orders") == "its migrations changed"


@pytest.mark.parametrize(
    ("doc_changes", "changed", "dbs", "kind", "needle"),
    [
        pytest.param(
            {
                "services": [
                    *BLUEPRINT_DOC["services"][:3],  # type: ignore[index]
                    {"name": "auth", "team": "gamma", "image": "a", "calls": ["web"]},
                ]
            },
            ("web",),
            (),
            RoutingErrorKind.CYCLE,
            "cycle",
            id="cycle",
        ),
        pytest.param(
            {},
            ("nope",),
            (),
            RoutingErrorKind.UNKNOWN_SERVICE,
            "nope",
            id="unknown-changed-service",
        ),
        pytest.param(
            {}, ("auth",), (), RoutingErrorKind.SHARED_NEEDS_PR_DATA, "auth", id="shared-changed"
        ),
        pytest.param(
            {"sharedServices": ["api"]},
            (),
            ("orders",),
            RoutingErrorKind.SHARED_NEEDS_PR_DATA,
            "PR-only data",
            id="shared-calls-migrated-db",
        ),
    ],
)
def test_errors(
    doc_changes: dict[str, object],
    changed: tuple[str, ...],
    dbs: tuple[str, ...],
    kind: RoutingErrorKind,
    needle: str,
) -> None:
    bp = blueprint(**doc_changes)
    with pytest.raises(RoutingError) as info:
        plan_routes(bp, namespace="pr-1", changed_services=changed, changed_databases=dbs)
    assert info.value.kind is kind
    assert needle in str(info.value)
