"""`mayfly dev cluster up|down|kubeconfig`: a local control plane for people.

Thin Typer layer over `session`: parse options, show progress, print the
`KUBECONFIG` to export, and turn expected failures into messages that say
what to do next. No process or Kubernetes logic lives here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from controller.devcluster import session
from controller.devcluster.binaries import BinariesUnavailableError
from controller.devcluster.processes import ProcessFailedError
from controller.devcluster.tier import DEFAULT_FAKE_NODES, Tier

_err = Console(stderr=True, soft_wrap=True)  # never break commands across lines

dev_app = typer.Typer(help="Developer tooling: a local Kubernetes control plane.")
cluster_app = typer.Typer(
    help="A real local control plane (etcd, kube-apiserver; optionally controller-manager, "
    "scheduler and kwok fake nodes) with the Mayfly CRDs installed.",
    no_args_is_help=True,
)
dev_app.add_typer(cluster_app, name="cluster")


def register(app: typer.Typer) -> None:
    """Attach `dev cluster ...` to the main `mayfly` application."""
    app.add_typer(dev_app, name="dev")


@cluster_app.command()
def up(
    tier: Annotated[
        Tier,
        typer.Option(help="api: etcd + kube-apiserver; cluster: adds workloads via kwok."),
    ] = Tier.CLUSTER,
    crds: Annotated[
        list[Path] | None,
        typer.Option(help="Directory of CRD manifests to install (repeatable)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 180.0,
    fake_nodes: Annotated[
        int,
        typer.Option(min=1, help="kwok nodes of the cluster tier, 110 pods each."),
    ] = DEFAULT_FAKE_NODES,
) -> None:
    """Start the control plane in the background and print the KUBECONFIG to export."""
    existing = session.load()
    if existing is not None and existing.alive():
        if existing.tier != tier.value:
            _err.print(
                f"[red]the {existing.tier} tier is already running[/] at {existing.server}; "
                f"stop it with `mayfly dev cluster down` to start the {tier.value} tier"
            )
            raise typer.Exit(1)
        _err.print(f"[yellow]already running[/] ({existing.tier} tier at {existing.server})")
        typer.echo(f"export KUBECONFIG={existing.kubeconfig}")
        return
    crd_dirs = tuple(crds) if crds else session.DEFAULT_CRD_DIRS
    try:
        with _err.status(
            f"starting the {tier.value} tier (building binaries first if the cache is cold)"
        ):
            started = session.up(tier, crd_dirs=crd_dirs, timeout=timeout, fake_nodes=fake_nodes)
    except BinariesUnavailableError as error:
        _err.print(f"[red]cannot get the control-plane binaries:[/] {error}")
        raise typer.Exit(2) from error
    except ProcessFailedError as error:
        _err.print(f"[red]the control plane did not start:[/] {error}")
        raise typer.Exit(1) from error
    _err.print(
        f"[green]{started.tier} tier ready[/] at {started.server}; logs in {started.workdir}/logs"
    )
    if started.tier == Tier.CLUSTER.value:
        _err.print(
            "try the controller: mayfly controller run --dev-volume-binder "
            "--blueprint examples/blueprint.yaml"
        )
    _err.print("stop it with: mayfly dev cluster down")
    typer.echo(f"export KUBECONFIG={started.kubeconfig}")


@cluster_app.command()
def down() -> None:
    """Stop the control plane started by `up` and delete its data."""
    stopped = session.down()
    if stopped is None:
        _err.print("no dev cluster is recorded; nothing to stop")
        return
    _err.print(f"stopped the {stopped.tier} tier ({len(stopped.pids)} processes)")


@cluster_app.command()
def kubeconfig() -> None:
    """Print the kubeconfig path of the running dev cluster."""
    current = session.load()
    if current is None or not current.alive():
        _err.print("[red]no dev cluster is running;[/] start one with: mayfly dev cluster up")
        raise typer.Exit(1)
    typer.echo(current.kubeconfig)
