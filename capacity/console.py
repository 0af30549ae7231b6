"""Terminal output of the capacity commands: the progress bar and the result tables.

Presentation only (rich): it formats numbers computed elsewhere and never
computes or runs anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from capacity.recommend import Recommendation

out = Console()
err = Console(stderr=True)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[float, int, int], None]]:
    """A rich bar on stderr; yields the `capacity.runner.Progress` callback that moves it."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(description, total=None)

        def update(completed: float, finished: int, total: int) -> None:
            progress.update(
                task,
                completed=completed,
                total=total,
                description=f"{description} ({finished}/{total} runs done)",
            )

        yield update


def print_points(points: Any) -> None:
    """The per-point table of `capacity.stats.summarise_points` at 90 s."""
    table = Table(title="SLA attainment per setting (90 s; mean over seeds and lower bound)")
    for name in ("pool", "conc", "nodes", "seeds", "attain %", "lower %", "p95 s", "cost $"):
        table.add_column(name, justify="right")
    for row in points.itertuples():
        table.add_row(
            str(row.pool_size),
            "def"
            if row.concurrency != row.concurrency or row.concurrency is None
            else str(int(row.concurrency)),
            "def" if row.nodes is None or row.nodes != row.nodes else str(int(row.nodes)),
            str(row.seeds),
            f"{100 * row.attainment:.1f}",
            f"{100 * row.attainment_lower:.1f}",
            f"{row.spinup_p95_s:.0f}",
            f"{row.cost_usd:.0f}",
        )
    out.print(table)


def print_recommendation(rec: Recommendation) -> None:
    """The recommended setting, its bound, and the Blueprint pool block."""
    if rec.setting is None:
        out.print(
            f"[red]no swept setting meets {100 * rec.target:.0f} % within "
            f"{rec.sla_seconds:g} s[/] (best lower bound {100 * rec.best_lower:.1f} %); "
            "sweep larger --pool-sizes, --concurrency or --nodes"
        )
        return
    s = rec.setting
    out.print(
        f"[green]recommended[/]: pool {s['pool_size']}, concurrency "
        f"{s['concurrency'] or 'default'}, nodes {s['nodes'] or 'default'}: attainment "
        f"{100 * s['attainment']:.1f} %, lower bound {100 * s['attainment_lower']:.1f} % "
        f"(min of one-sided {100 * rec.confidence:.0f} % t bound over {s['seeds']} seeds "
        f"and Wilson bound over {s['environments']} environments), cost "
        f"${s['cost_usd']:.2f}"
    )
    out.print("hourly schedule (Blueprint pool block):")
    out.print(rec.pool_yaml(), highlight=False)
