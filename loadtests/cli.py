"""`mayfly loadtest`: Locust bursts of signed pull_request webhooks against the real system.

Thin: parse options into `RunOptions`, show progress while `runner.run`
works, print the summary table and exit non-zero on any inconsistency or
stop-rule failure. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from controller.devcluster import Tier
from controller.devcluster.binaries import BinariesUnavailableError
from controller.devcluster.processes import ProcessFailedError
from loadtests.runner import RunOptions, ScenarioNotFoundError, Summary, run, scenarios
from loadtests.settings import RunSettings
from loadtests.stack import StackError, StackOptions

_out = Console()
_err = Console(stderr=True)
# kwok nodes of the cluster tier here: 1,100 pods, room for about 120 environments of the
# fleet's blueprint; the dev cluster's default 2 (220 pods) left a 5-user run in Deploying
CLUSTER_NODES = 10


def loadtest(
    scenario: Annotated[
        str, typer.Option(help="locustfile or scenarios/*.yaml name (see --list)")
    ] = "steady-hour",
    users: Annotated[int, typer.Option(help="peak Locust users")] = 10,
    duration: Annotated[float, typer.Option(help="seconds of load")] = 30.0,
    report: Annotated[Path, typer.Option(help="directory for HTML, CSV, ledger, logs")] = Path(
        "loadtest-report"
    ),
    tier: Annotated[Tier, typer.Option(help="api: intake only; cluster: end to end")] = Tier.API,
    user_rps: Annotated[float, typer.Option(help="deliveries per second per user")] = 2.0,
    spawn_rate: Annotated[float, typer.Option(help="users started per second")] = 20.0,
    seed: Annotated[int, typer.Option(help="random seed of the deliveries")] = 1,
    max_fail_ratio: Annotated[float, typer.Option(help="stop rule: failure ratio")] = 0.01,
    max_p99_ms: Annotated[float, typer.Option(help="stop rule: p99 latency (ms)")] = 1000.0,
    compress: Annotated[float, typer.Option(help="replay: simulated s per real s")] = 600.0,
    replay_start: Annotated[float, typer.Option(help="replay: start, hours after Mon 00:00")] = 8.0,
    max_deliveries: Annotated[int, typer.Option(help="stop after N genuine (0: no cap)")] = 0,
    processes: Annotated[int, typer.Option(help="Locust worker processes")] = 1,
    settle: Annotated[
        float | None, typer.Option(help="seconds to wait for teardown/Ready (cluster default 180)")
    ] = None,
    controller: Annotated[bool, typer.Option(help="run the controller too")] = True,
    max_concurrent: Annotated[int, typer.Option(help="blueprint's concurrent provisions")] = 200,
    fake_nodes: Annotated[
        int,
        typer.Option(
            help="cluster tier: kwok nodes, 110 pods each (an environment runs about 9 pods)"
        ),
    ] = CLUSTER_NODES,
    list_scenarios: Annotated[bool, typer.Option("--list", help="list scenarios and exit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Run a Locust scenario against the real webhook and controller, then check the result."""
    if list_scenarios:
        for name in scenarios():
            _out.print(name)
        return
    settle_s = settle if settle is not None else (180.0 if tier is Tier.CLUSTER else 0.0)
    options = RunOptions(
        scenario=scenario,
        report_dir=report,
        tier=tier,
        processes=processes,
        settle_s=settle_s,
        settings=RunSettings(
            users=users,
            duration=duration,
            spawn_rate=spawn_rate,
            user_rps=user_rps,
            seed=seed,
            max_fail_ratio=max_fail_ratio,
            max_p99_ms=max_p99_ms,
            compress=compress,
            replay_start_h=replay_start,
            max_deliveries=max_deliveries,
        ),
        stack=StackOptions(
            controller=controller, max_concurrent=max_concurrent, fake_nodes=fake_nodes
        ),
    )
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=_err, transient=True) as bar:
            task = bar.add_task(f"starting the {tier.value} tier", total=duration)
            summary = run(
                options,
                on_stack=lambda s: bar.update(task, description=f"{scenario} -> {s.url}"),
                tick=lambda t: bar.update(task, completed=min(t, duration)),
            )
    except ScenarioNotFoundError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    except (BinariesUnavailableError, ProcessFailedError, StackError) as exc:
        _err.print(f"[red]error:[/] the system under test did not start: {exc}")
        _err.print("build the control plane with `make k8s-bins` (or set MAYFLY_K8S_BINS)")
        raise typer.Exit(2) from exc
    if as_json:
        print(summary.to_json())
    else:
        _print(summary)
    raise typer.Exit(summary.exit_code)


def _print(s: Summary) -> None:
    table = Table(title=f"mayfly loadtest: {s.scenario} ({s.locustfile}, {s.tier} tier)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for kind, n in sorted(s.sent.items()):
        table.add_row(f"sent {kind}", str(n))
    table.add_row("HTTP statuses", json.dumps(s.statuses, sort_keys=True))
    table.add_row("deliveries/s", f"{s.deliveries_per_s:.1f}")
    for q in ("p50", "p95", "p99", "max"):
        table.add_row(f"latency {q}", f"{s.latency_ms.get(q, 0.0):.1f} ms")
    c = s.consistency
    table.add_row("pull requests expected", str(c.get("expected_prs", 0)))
    table.add_row("environments found", str(c.get("environments", 0)))
    table.add_row("closed pull requests", str(int(c.get("closed_prs", 0))))
    for problem, n in (c.get("problems") or {}).items():
        table.add_row(f"[red]{problem}[/]", str(n))
    for rule in s.stop_rules:
        table.add_row(f"[red]stop rule {rule['rule']}[/]", str(rule.get("detail", "")))
    for name in s.dead_components:
        table.add_row("[red]died[/]", name)
    verdict = "[green]consistent[/]" if s.exit_code == 0 else "[red]FAILED[/]"
    table.add_row("verdict", verdict)
    _out.print(table)
    for problem, examples in (c.get("examples") or {}).items():
        for example in examples:
            _out.print(f"  {problem}: {example}")
    _out.print(f"report: {s.report_dir}/locust.html, locust_stats.csv, summary.json, ledger/")


def register(app: typer.Typer) -> None:
    """Add `mayfly loadtest` to the application."""
    app.command("loadtest")(loadtest)
