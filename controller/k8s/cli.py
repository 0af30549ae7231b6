"""`mayfly controller run`, `mayfly status`, `mayfly trace export`: the controller's commands.

Thin: parse options into a `ShellConfig`, wire the loop, leader election,
metrics server and optional GitHub reporting; or read PreviewEnvironments
and print them. No decisions, no rendering.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import start_http_server
from rich.console import Console
from rich.table import Table

from controller.core.policy import Policy
from controller.core.schema import parse_duration
from controller.core.types import Step
from controller.k8s import binder, kube, leader, metrics, names, pe
from controller.k8s.config import ShellConfig
from controller.k8s.deployments import DeploymentsReporter
from controller.k8s.errors import KubeError
from controller.k8s.loop import Controller
from controller.webhook.github import GitHub

controller_app = typer.Typer(help="The Kubernetes controller.", no_args_is_help=True)
trace_app = typer.Typer(help="The phase-transition trace.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)

Kubeconfig = Annotated[str | None, typer.Option(help="kubeconfig (default: $KUBECONFIG)")]
Namespace = Annotated[str, typer.Option(help="namespace of the PreviewEnvironments")]


def _deadlines(values: list[str]) -> tuple[tuple[Step, int], ...]:
    out = []
    for value in values:
        step, _, seconds = value.partition("=")
        try:
            out.append((Step(step), int(seconds)))
        except ValueError as exc:
            raise typer.BadParameter(
                f"expected STEP=SECONDS, e.g. masking=600; got {value}"
            ) from exc
    return tuple(out)


@controller_app.command("run")
def run(
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = names.DEFAULT_NAMESPACE,
    pool_namespace: Annotated[
        str, typer.Option(help="namespace of volumes")
    ] = names.POOL_NAMESPACE,
    blueprint: Annotated[
        list[Path] | None, typer.Option(help="blueprint YAML file, besides Blueprint objects")
    ] = None,
    metrics_port: Annotated[int, typer.Option(help="Prometheus port (0: off)")] = 9090,
    leader_elect: Annotated[bool, typer.Option(help="take part in leader election")] = True,
    lease_duration: Annotated[int, typer.Option(help="lease duration, seconds")] = 15,
    renew_deadline: Annotated[int, typer.Option(help="renew deadline, seconds")] = 10,
    retry_period: Annotated[int, typer.Option(help="election retry period, seconds")] = 2,
    workers: Annotated[int, typer.Option(help="reconcile workers (Blueprints at once)")] = 2,
    apply_workers: Annotated[int, typer.Option(help="parallel writes within a cycle")] = 16,
    resync: Annotated[float, typer.Option(help="seconds between full resyncs")] = 30.0,
    job_image: Annotated[str, typer.Option(help="image of migration/masking Jobs")] = (
        ShellConfig().job_image
    ),
    job_deadline: Annotated[
        list[str] | None, typer.Option(help="STEP=SECONDS Job deadline override (repeatable)")
    ] = None,
    storage_class: Annotated[str | None, typer.Option(help="storage class of volumes")] = None,
    max_attempts: Annotated[int, typer.Option(help="attempts per step before Failed")] = 3,
    dev_volume_binder: Annotated[
        bool, typer.Option(help="TEST/DEV ONLY: bind volumes to pre-provisioned PVs")
    ] = False,
    retain_gone: Annotated[
        str,
        typer.Option(
            help="how long a closed PR's PreviewEnvironment is kept once its environment "
            "is gone (the record that keeps webhooks idempotent, and its trace), "
            "e.g. 7d or 12h; 0s deletes it at once"
        ),
    ] = "7d",
    github_api: Annotated[str | None, typer.Option(help="GitHub API URL for Deployments")] = None,
    github_token_env: Annotated[str, typer.Option(help="env var with a GitHub token")] = (
        "GITHUB_TOKEN"
    ),
) -> None:
    """Watch PreviewEnvironments and Blueprints and reconcile them until stopped."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
    )
    cfg = ShellConfig(
        namespace=namespace,
        pool_namespace=pool_namespace,
        job_image=job_image,
        job_deadline_seconds=_deadlines(job_deadline or []),
        storage_class=storage_class,
        policy=Policy(max_attempts=max_attempts),
    )
    try:
        retain = parse_duration(retain_gone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--retain-gone") from exc
    # connections kept alive: each reconcile worker's writers and the pipeline's
    # (apply_workers each), the watches and the odd get; a smaller pool makes urllib3
    # open and discard a TLS connection per call beyond it (a handshake on both sides)
    api = kube.connect(kubeconfig, pool=(workers + 1) * max(apply_workers, 8) + 16)
    reporter = None
    if github_api:
        reporter = DeploymentsReporter(GitHub(github_api, token=os.environ.get(github_token_env)))
    ctl = Controller(
        api,
        cfg,
        blueprint_files=tuple(blueprint or ()),
        reporter=reporter,
        workers=workers,
        apply_workers=apply_workers,
        resync_seconds=resync,
        retain_gone=retain,
    )
    if metrics_port:
        start_http_server(metrics_port, registry=metrics.REGISTRY)

    def lead(stop: threading.Event) -> None:
        if dev_volume_binder:
            threading.Thread(
                target=binder.run,
                args=(kube.connect(kubeconfig, pool=binder.WORKERS + 2), pool_namespace, stop),
                daemon=True,
            ).start()
        ctl.run(stop)

    try:
        ctl.ensure_namespaces()
        if leader_elect:
            leader.run_as_leader(
                api.api,
                lead,
                namespace=namespace,
                lease_duration=lease_duration,
                renew_deadline=renew_deadline,
                retry_period=retry_period,
            )
            logging.getLogger("mayfly.controller").error("event=exit reason=lost_leadership")
            sys.exit(1)
        lead(threading.Event())
    except KubeError as exc:
        _err.print(f"[red]error:[/] the API server refused: {exc}; check the kubeconfig and RBAC")
        raise typer.Exit(1) from exc


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return "-"
    delta = now - datetime.fromisoformat(created.replace("Z", "+00:00"))
    if delta < timedelta(minutes=2):
        return f"{int(delta.total_seconds())}s"
    if delta < timedelta(hours=2):
        return f"{int(delta.total_seconds() // 60)}m"
    return f"{delta.days}d{delta.seconds // 3600}h" if delta.days else f"{delta.seconds // 3600}h"


def status(
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = names.DEFAULT_NAMESPACE,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List environments: repository, PR, team, phase, age, URL, queue position."""
    try:
        items, _ = kube.connect(kubeconfig).list(kube.PE, namespace=namespace)
    except KubeError as exc:
        _err.print(f"[red]error:[/] cannot list environments: {exc}; is the cluster up?")
        raise typer.Exit(1) from exc
    now = datetime.now(UTC)
    rows = []
    for obj in sorted(items, key=lambda o: (o["spec"]["repository"], o["spec"]["number"])):
        st = pe.status_of(obj)
        rows.append(
            {
                "repository": obj["spec"]["repository"],
                "pr": obj["spec"]["number"],
                "team": obj["spec"]["team"],
                "phase": st.phase.value if st else "New",
                "reason": st.reason.value if st else "",
                "age": _age(obj["metadata"].get("creationTimestamp"), now),
                "url": st.url if st else "",
                "queue": st.queue_position if st else None,
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table("REPOSITORY", "PR", "TEAM", "PHASE", "AGE", "URL", "QUEUE")
    for row in rows:
        phase = f"{row['phase']} ({row['reason']})" if row["reason"] else str(row["phase"])
        queue = "" if row["queue"] is None else str(row["queue"])
        table.add_row(
            str(row["repository"]), str(row["pr"]), str(row["team"]), phase,
            str(row["age"]), str(row["url"]), queue,
        )  # fmt: skip
    _out.print(table)


@trace_app.command("export")
def trace_export(
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = names.DEFAULT_NAMESPACE,
    output: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
) -> None:
    """Every phase transition of every environment as JSON lines (for sim calibration)."""
    try:
        items, _ = kube.connect(kubeconfig).list(kube.PE, namespace=namespace)
    except KubeError as exc:
        _err.print(f"[red]error:[/] cannot list environments: {exc}; is the cluster up?")
        raise typer.Exit(1) from exc
    records = []
    for obj in items:
        st = pe.status_of(obj)
        if st is None:
            continue
        spec = obj["spec"]
        for index, (phase, at) in enumerate(st.transitions):
            record = {
                "repository": spec["repository"],
                "number": spec["number"],
                "team": spec["team"],
                "sha": st.sha,
                "seq": index,
                "phase": phase.value,
                "time": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
            records.append(record)
    records.sort(key=lambda r: (r["repository"], r["number"], r["seq"]))
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


def register(app: typer.Typer) -> None:
    """Add `mayfly controller`, `mayfly status` and `mayfly trace` to the application."""
    app.add_typer(controller_app, name="controller")
    app.add_typer(trace_app, name="trace")
    app.command("status")(status)
