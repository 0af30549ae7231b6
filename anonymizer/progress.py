"""Progress reporting for masking runs: a rich bar per table on a terminal, plain logs otherwise.

Role: implement `masking.Progress` twice -- `BarProgress` (rich, one bar per
table with rows/s) and `LogProgress` (structured key=value lines, for the
masking Job's logs) -- and pick one with `for_console`.

It must not log personal data: only table names, counts and phases.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class LogProgress:
    """One key=value line per event on stderr."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def _log(self, event: str, **fields: object) -> None:
        parts = " ".join(f"{k}={v}" for k, v in fields.items())
        print(f"event={event} {parts}", file=sys.stderr, flush=True)

    def start(self, table: str, rows: int | None) -> None:
        self._started[table] = time.monotonic()
        self._log("table_started", table=table, estimated_rows=rows if rows is not None else "?")

    def advance(self, table: str, rows: int) -> None:
        self._log("chunk_masked", table=table, rows=rows)

    def phase(self, table: str, text: str) -> None:
        elapsed = time.monotonic() - self._started.get(table, time.monotonic())
        self._log(f"table_{text}", table=table, seconds=f"{elapsed:.2f}")

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class BarProgress:
    """A rich progress bar per table."""

    def __init__(self, console: Console) -> None:
        self._bars = Progress(
            TextColumn("[bold]{task.fields[table]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[phase]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def start(self, table: str, rows: int | None) -> None:
        self._tasks[table] = self._bars.add_task("", total=rows, table=table, phase="masking")

    def advance(self, table: str, rows: int) -> None:
        self._bars.advance(self._tasks[table], rows)

    def phase(self, table: str, text: str) -> None:
        task = self._tasks.get(table)
        if task is None:
            return
        if text == "done":
            done = self._bars.tasks[task].completed
            self._bars.update(task, total=done, completed=done)
        self._bars.update(task, phase=text)

    def __enter__(self) -> BarProgress:
        self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bars.stop()


def for_console(console: Console) -> BarProgress | LogProgress:
    """Bars on an interactive terminal, plain log lines otherwise (CI, Kubernetes Jobs)."""
    return BarProgress(console) if console.is_terminal else LogProgress()
