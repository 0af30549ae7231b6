"""`mayfly simulate`: run the organisation model once, print a summary, write JSON and figures.

Thin: parse options into parameters, call `sim.run.simulate` with a progress
bar, print a table, write files. No simulation logic lives here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.params import ParamsError, SimParams, load_params
from sim.run import SimResult, result_frames, simulate

_out = Console()
_err = Console(stderr=True)


def summary_json(summary: dict[str, Any]) -> str:
    """Canonical JSON text: sorted keys, so equal runs give equal bytes (but wall_seconds)."""
    return json.dumps(summary, indent=2, sort_keys=True) + "\n"


def _table(summary: dict[str, Any], params: SimParams) -> Table:
    table = Table(title="Mayfly simulation summary", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    sla = summary.get("sla_attainment")
    for key in sorted(summary):
        value = summary[key]
        text = "-" if value is None else f"{value:,.3f}" if isinstance(value, float) else str(value)
        if key == "sla_attainment" and sla is not None:
            colour = "green" if sla >= 0.95 else "red"
            text = f"[{colour}]{sla:.2%}[/] ready < {params.run.sla_s:g} s"
        table.add_row(key, text)
    return table


def write_records(result: SimResult, out: Path) -> list[Path]:
    """Per-environment records and time series, as Parquet (typed) and CSV (for a glance)."""
    envs, series = result_frames(result)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("environments", envs), ("timeseries", series)):
        frame.to_parquet(out / f"{name}.parquet", engine="pyarrow", index=False)
        frame.to_csv(out / f"{name}.csv", index=False)
        written += [out / f"{name}.parquet", out / f"{name}.csv"]
    return written


def simulate_command(
    engineers: Annotated[
        int | None, typer.Option(help="engineers in the organisation [params default: 500]")
    ] = None,
    teams: Annotated[
        int | None, typer.Option(help="teams, uneven sizes [params default: 40]")
    ] = None,
    days: Annotated[
        float | None, typer.Option(help="simulated days from Monday 00:00 [params default: 5]")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same result")] = 1,
    pool_size: Annotated[
        int | None, typer.Option(help="constant warm-pool size (default: blueprint schedule)")
    ] = None,
    params_file: Annotated[
        Path | None, typer.Option("--params", help="YAML file overriding sim/params/default.yaml")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="write the summary as JSON to this file")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="directory for per-environment records (Parquet, CSV) and PNG figures"),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar and no table")] = False,
) -> None:
    """Simulate the organisation's pull requests against the real reconciliation core."""
    given = {
        "workload.engineers": engineers,
        "workload.teams": teams,
        "run.days": days,
        "pool.size": pool_size,
    }
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    try:
        params = load_params(params_file, overrides)
    except (ParamsError, OSError) as exc:
        _err.print(f"[red]error:[/] {exc}; fix the parameter file or option and retry")
        raise typer.Exit(2) from exc
    if quiet:
        result = simulate(params, seed=seed)
    else:
        with Progress(
            TextColumn("simulating {task.fields[days]:g} days"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TimeElapsedColumn(),
            console=_err,
        ) as bar:
            task = bar.add_task("sim", total=1.0, days=params.run.days)
            result = simulate(params, seed=seed, progress=lambda f: bar.update(task, completed=f))
        _out.print(_table(result.summary, params))
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(summary_json(result.summary), encoding="utf-8")
    if out is not None:
        from sim.plots import write_figures  # noqa: PLC0415 (matplotlib is slow to import)

        records = write_records(result, out)
        figures = write_figures(result.environments, result.timeseries, out, sla_s=params.run.sla_s)
        _out.print("records: " + ", ".join(str(r) for r in records))
        _out.print("figures: " + ", ".join(str(f) for f in figures))


def register(app: typer.Typer) -> None:
    """Add `mayfly simulate` to the `mayfly` application."""
    app.command("simulate")(simulate_command)
