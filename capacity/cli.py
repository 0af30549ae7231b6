"""`mayfly capacity sweep|merge|recommend|sensitivity|report`: capacity planning commands.

Thin Typer layer: parse options, show a rich progress bar, print tables, and
turn expected problems (a bad grid, a mismatched sweep directory) into
messages that say what to do next. The work lives in the other `capacity`
modules.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from capacity import console, grid, store
from capacity.console import print_points, print_recommendation, progress_bar
from capacity.recommend import Recommendation
from capacity.recommend import recommend as make_recommendation
from capacity.report import analyse, write_figures, write_report
from capacity.runner import load_scenario_params, run_sweep
from capacity.sensitivity import DEFAULT_PARAMETERS, run_sensitivity
from capacity.stats import summarise_points
from capacity.verify import verify_schedule
from sim.params import ParamsError

capacity_app = typer.Typer(
    help="Capacity planning: sweep pool size, concurrency and nodes in the simulation, "
    "recommend the cheapest setting meeting the SLA, and report.",
    no_args_is_help=True,
)
_out, _err = console.out, console.err


def register(app: typer.Typer) -> None:
    """Attach `capacity ...` to the main `mayfly` application."""
    app.add_typer(capacity_app, name="capacity")


def _fail(message: str) -> typer.Exit:
    _err.print(f"[red]error:[/] {message}")
    return typer.Exit(2)


def _parse_set(values: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep:
            raise _fail(f"--set {item!r}: use KEY=VALUE, e.g. workload.engineers=100")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _optional_ints(spec: str | None, name: str) -> tuple[int | None, ...]:
    return (None,) if not spec else grid.parse_int_list(spec, name=name)


@capacity_app.command()
def sweep(
    out: Annotated[Path, typer.Option(help="sweep directory (created; resumed if it exists)")],
    pool_sizes: Annotated[
        str, typer.Option(help="START:STOP:STEP (stop inclusive) or a,b,c")
    ] = "0:40:4",
    concurrency: Annotated[
        str | None,
        typer.Option(help="concurrent-provision caps, e.g. 10,20,40 (default: the blueprint's)"),
    ] = None,
    nodes: Annotated[
        str | None, typer.Option(help="node counts, e.g. 30:50:10 (default: the params')")
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="seeds per point (1..N)")] = 5,
    days: Annotated[float, typer.Option(min=0.05, help="simulated days per run")] = 5.0,
    engineers: Annotated[int | None, typer.Option(help="override workload.engineers")] = None,
    teams: Annotated[int | None, typer.Option(help="override workload.teams")] = None,
    params: Annotated[
        Path | None, typer.Option(help="sim parameter YAML (partial is fine)")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="extra override KEY=VALUE (repeatable)")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="worker processes (default: all cores)")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="run only shard I/N (zero-based I), e.g. $JOB_COMPLETION_INDEX/8"),
    ] = None,
) -> None:
    """Run the simulation over the grid x seeds; points already in --out are skipped."""
    overrides = _parse_set(set_ or [])
    if engineers is not None:
        overrides["workload.engineers"] = engineers
    if teams is not None:
        overrides["workload.teams"] = teams
    try:
        points = grid.build_points(
            grid.parse_int_list(pool_sizes, name="pool-sizes"),
            _optional_ints(concurrency, "concurrency"),
            _optional_ints(nodes, "nodes"),
        )
        tasks = grid.build_tasks(points, range(1, seeds + 1))
        if shard is not None:
            index, count = grid.parse_shard(shard)
            tasks = grid.shard(tasks, index=index, count=count)
        text = params.read_text(encoding="utf-8") if params is not None else None
    except grid.GridError as error:
        raise _fail(str(error)) from error
    except OSError as error:
        raise _fail(f"cannot read --params {params}: {error.strerror}") from error
    scenario = store.Scenario(days=days, params_text=text, overrides=overrides)
    try:  # fail fast on a typo in --set or --params, before any process starts
        for point in points:
            load_scenario_params(scenario, point.overrides())
    except ParamsError as error:
        raise _fail(f"{error}; check --set, --params and the grid options") from error
    try:
        with progress_bar(f"sweeping {len(points)} points x {seeds} seeds") as update:
            outcome = run_sweep(out, tasks, scenario=scenario, jobs=jobs, progress=update)
    except store.StoreError as error:
        raise _fail(str(error)) from error
    store.mark_done(out)
    if not any((out / store.RUNS).glob("*.json")):
        _err.print(f"[yellow]nothing to run[/] in this shard ({len(tasks)} tasks); marked done")
        return
    runs, envs = store.consolidate(out)
    _err.print(
        f"[green]done[/]: {outcome.ran} runs in {outcome.wall_seconds:.1f} s, "
        f"{outcome.skipped} already in {out}; table {out / store.SWEEP_TABLE}"
    )
    print_points(summarise_points(runs, envs, sla_seconds=90.0))


@capacity_app.command()
def merge(
    sources: Annotated[list[Path], typer.Argument(help="sweep (shard) directories")],
    out: Annotated[Path, typer.Option(help="merged sweep directory")],
) -> None:
    """Merge shard outputs (e.g. of the Indexed Job) into one sweep directory."""
    try:
        runs, _ = store.merge(sources, out)
    except store.StoreError as error:
        raise _fail(str(error)) from error
    _err.print(f"[green]merged[/] {len(sources)} directories: {len(runs)} runs in {out}")


def _load(sweep_dir: Path) -> tuple[Any, Any]:
    try:
        return store.load_sweep(sweep_dir)
    except store.StoreError as error:
        raise _fail(str(error)) from error


@capacity_app.command()
def recommend(
    sweep: Annotated[Path, typer.Option(help="sweep directory")],
    sla_seconds: Annotated[float, typer.Option(help="spin-up SLA in seconds")] = 90.0,
    target: Annotated[float, typer.Option(min=0.0, max=1.0, help="required attainment")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
    write_pool: Annotated[
        Path | None, typer.Option(help="write the Blueprint pool YAML here")
    ] = None,
    lead_hours: Annotated[
        int, typer.Option(min=0, help="pre-warm the pool this many hours ahead")
    ] = 1,
    verify_seeds: Annotated[
        int, typer.Option(min=0, help="simulate the hourly schedule with this many seeds")
    ] = 0,
    jobs: Annotated[int | None, typer.Option(min=1, help="worker processes")] = None,
) -> None:
    """The cheapest swept setting whose lower confidence bound meets the target, and a schedule."""
    runs, envs = _load(sweep)
    rec = make_recommendation(
        runs, envs, sla_seconds=sla_seconds, target=target, lead_hours=lead_hours
    )
    checked = None
    if rec.setting is not None and verify_seeds > 0:
        with progress_bar(f"simulating the hourly schedule ({verify_seeds} seeds)") as update:
            checked = verify_schedule(
                store.read_scenario(sweep), rec, seeds=verify_seeds, jobs=jobs, progress=update
            )
    if as_json:
        data = rec.to_json()
        data["verification"] = None if checked is None else asdict(checked)
        typer.echo(json.dumps(data, indent=2))
    else:
        print_recommendation(rec)
        if checked is not None:
            verdict = "[green]meets[/]" if checked.attainment_lower >= target else "[red]misses[/]"
            _out.print(
                f"hourly schedule in the simulation ({checked.seeds} seeds): attainment "
                f"{100 * checked.attainment:.1f} %, lower bound "
                f"{100 * checked.attainment_lower:.1f} %: {verdict} the target"
            )
    if rec.setting is None:
        raise typer.Exit(1)
    if write_pool is not None:
        write_pool.write_text(rec.pool_yaml(), encoding="utf-8")
        _err.print(f"wrote the pool block to {write_pool}")


@capacity_app.command()
def sensitivity(
    sweep: Annotated[Path, typer.Option(help="sweep directory (centred on its recommendation)")],
    delta: Annotated[float, typer.Option(help="relative perturbation, e.g. 0.2 = ±20 %")] = 0.2,
    seeds: Annotated[int, typer.Option(min=1, help="seeds per perturbed run")] = 2,
    param: Annotated[
        list[str] | None, typer.Option(help="dotted sim parameter (repeatable)")
    ] = None,
    sla_seconds: Annotated[float, typer.Option(help="SLA used to pick the centre")] = 90.0,
    target: Annotated[float, typer.Option(help="target used to pick the centre")] = 0.95,
    jobs: Annotated[int | None, typer.Option(min=1, help="worker processes")] = None,
) -> None:
    """One-at-a-time ±delta runs around the recommended point; stored for `report`."""
    runs, envs = _load(sweep)
    rec = make_recommendation(runs, envs, sla_seconds=sla_seconds, target=target)
    effects, baseline = _sensitivity(
        sweep,
        rec,
        delta=delta,
        seeds=seeds,
        parameters=tuple(param or DEFAULT_PARAMETERS),
        jobs=jobs,
    )
    _out.print(f"p95 spin-up at the centre: {baseline:.1f} s")
    _out.print(effects.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def _sensitivity(
    sweep_dir: Path,
    rec: Recommendation,
    *,
    delta: float,
    seeds: int,
    parameters: tuple[str, ...],
    jobs: int | None,
) -> tuple[Any, float]:
    point = rec.centre()  # the recommended point, else the best one swept
    scenario = store.read_scenario(sweep_dir)
    with progress_bar(f"sensitivity: {len(parameters)} parameters x 2 x {seeds} seeds") as update:
        effects, baseline = run_sensitivity(
            scenario,
            point.overrides(),
            parameters=parameters,
            delta=delta,
            seeds=range(1, seeds + 1),
            jobs=jobs,
            progress=update,
        )
    store.write_sensitivity(sweep_dir, effects, baseline=baseline)
    return effects, baseline


@capacity_app.command()
def report(
    sweep: Annotated[Path, typer.Option(help="sweep directory")],
    out: Annotated[Path, typer.Option(help="HTML file to write")],
    sla_seconds: Annotated[float, typer.Option(help="spin-up SLA in seconds")] = 90.0,
    target: Annotated[float, typer.Option(min=0.0, max=1.0, help="required attainment")] = 0.95,
    sensitivity_seeds: Annotated[
        int,
        typer.Option(
            min=0, help="seeds for the sensitivity runs if none are stored (0: skip the tornado)"
        ),
    ] = 1,
    jobs: Annotated[int | None, typer.Option(min=1, help="worker processes")] = None,
    figures: Annotated[
        Path | None, typer.Option(help="also write each figure as a PNG into this directory")
    ] = None,
) -> None:
    """One self-contained HTML page with every figure (runs a cheap sensitivity if missing)."""
    runs, envs = _load(sweep)
    sens = store.read_sensitivity(sweep)
    if sens is None and sensitivity_seeds > 0:
        rec = make_recommendation(runs, envs, sla_seconds=sla_seconds, target=target)
        sens = _sensitivity(
            sweep,
            rec,
            delta=0.2,
            seeds=sensitivity_seeds,
            parameters=DEFAULT_PARAMETERS,
            jobs=jobs,
        )
    analysis = analyse(runs, envs, sla_seconds=sla_seconds, target=target, sensitivity=sens)
    write_report(analysis, out, scenario=store.read_scenario(sweep))
    if figures is not None:
        for path in write_figures(analysis, figures):
            _err.print(f"wrote {path}")
    _err.print(
        f"[green]wrote[/] {out} ({out.stat().st_size // 1024} KiB, {len(analysis.figures)} figures)"
    )
