"""`mayfly blueprint check` and `mayfly routes`: the core's commands.

Thin: read files, call the core, print. Exit codes: 0 fine, 2 invalid input
(every validation error is printed with its field path and what is expected).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.blueprint_file import read_blueprint
from controller.core.blueprint import Blueprint, RoutingMode
from controller.core.routing import RoutingError, plan_routes, services_for_paths
from controller.core.schema import SchemaError

blueprint_app = typer.Typer(help="Validate and inspect blueprints.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _load(path: Path) -> Blueprint:
    try:
        return read_blueprint(path)
    except OSError as exc:
        _err.print(f"[red]error:[/] cannot read {path}: {exc.strerror}; check the path")
        raise typer.Exit(2) from exc
    except SchemaError as exc:
        _err.print(f"[red]error:[/] {exc.what} is invalid:")
        for error in exc.errors:
            _err.print(f"  - [bold]{error.path}[/]: {error.message}")
        raise typer.Exit(2) from exc


@blueprint_app.command("check")
def check(path: Annotated[Path, typer.Argument(help="blueprint YAML file")]) -> None:
    """Validate a blueprint: exit 0 with a summary, or 2 with every error."""
    bp = _load(path)
    teams = sorted({s.team for s in bp.services})
    _out.print(
        f"[green]ok[/] blueprint {bp.name!r}: {len(bp.services)} services, "
        f"{len(teams)} teams, {len(bp.databases)} databases, "
        f"shared: {', '.join(bp.shared_services) or 'none'}; routing mode {bp.routing_mode}; "
        f"pool {bp.pool.default_size}-{max([h.size for h in bp.pool.hours], default=0)} slots"
    )


def routes(
    blueprint: Annotated[Path, typer.Option(help="blueprint YAML file")],
    changed: Annotated[
        str, typer.Option(help="changed services, comma-separated (SVC[,SVC...])")
    ] = "",
    paths: Annotated[
        str, typer.Option(help="changed repository paths, comma-separated, instead of services")
    ] = "",
    mode: Annotated[RoutingMode | None, typer.Option(help="full or affected")] = None,
    namespace: Annotated[str, typer.Option(help="PR namespace to plan for")] = "pr-example",
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
) -> None:
    """Which services run in the PR namespace, which route to the baseline, and why."""
    bp = _load(blueprint)
    services = tuple(s for s in changed.split(",") if s)
    path_list = tuple(p for p in paths.split(",") if p)
    if path_list:
        services = tuple(sorted(set(services) | set(services_for_paths(bp, path_list))))
    try:
        plan = plan_routes(bp, namespace=namespace, changed_services=services, mode=mode)
    except RoutingError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        doc = {
            "namespace": plan.namespace,
            "mode": plan.mode.value,
            "in_pr": list(plan.in_pr),
            "baseline": list(plan.baseline),
            "shared": list(plan.shared),
            "reasons": dict(plan.reasons),
            "routes": [
                {
                    "from": r.source,
                    "to": r.destination,
                    "target": r.target.value,
                    "namespace": r.namespace,
                }
                for r in plan.routes
            ],
        }
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    table = Table(title=f"route plan for {namespace} ({plan.mode} mode)")
    for column in ("service", "runs in", "why"):
        table.add_column(column)
    for name, where in (
        *((n, namespace) for n in plan.in_pr),
        *((n, f"{plan.baseline_namespace} (baseline)") for n in plan.baseline),
        *((n, f"{plan.baseline_namespace} (shared)") for n in plan.shared),
    ):
        table.add_row(name, where, plan.reason(name))
    _out.print(table)
    _out.print(f"{len(plan.routes)} routes; egress denied to {', '.join(plan.denied_namespaces)}")


def register(app: typer.Typer) -> None:
    """Add the core's commands to the `mayfly` application."""
    app.add_typer(blueprint_app, name="blueprint")
    app.command("routes")(routes)
