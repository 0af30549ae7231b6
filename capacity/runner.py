"""Run sweep tasks through the simulation, serially or in a process pool, with progress.

The only module of `capacity` that calls the simulation (`sim.params`,
`sim.run`). Each worker process writes its own run files (see `capacity.store`)
so nothing large crosses process boundaries and a killed sweep loses at most
the runs in flight. It draws nothing and prints nothing: progress goes to a
callback that the CLI turns into a rich progress bar.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import Manager
from pathlib import Path
from queue import Empty
from typing import Any, Protocol

import pandas as pd

from capacity.grid import Task
from capacity.store import ENV_COLUMNS, Scenario, open_sweep, pending, write_run
from sim.params import load_params
from sim.run import simulate

Progress = Callable[[float, int, int], None]
"""Called with (tasks completed including fractions in flight, runs finished, runs total)."""


class _Sink(Protocol):
    def put(self, item: tuple[str, float]) -> None: ...


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    """What one `run_sweep` call did."""

    ran: int
    skipped: int
    wall_seconds: float


def _params_path(params_text: str | None) -> Path | None:
    """The scenario's params file, materialised once per process (workers may be pods)."""
    if params_text is None:
        return None
    directory = Path(tempfile.gettempdir()) / f"mayfly-capacity-{os.getpid()}"
    directory.mkdir(exist_ok=True)
    path = directory / f"params-{abs(hash(params_text))}.yaml"
    if not path.exists():
        path.write_text(params_text)
    return path


def load_scenario_params(scenario: Scenario, overrides: Mapping[str, Any]) -> Any:
    """The sim's parameters for a scenario plus point overrides (a `sim.params.SimParams`)."""
    merged: dict[str, Any] = {"run.days": scenario.days, **scenario.overrides, **overrides}
    return load_params(_params_path(scenario.params_text), overrides=merged)


def simulate_once(
    scenario: Scenario,
    overrides: Mapping[str, Any],
    *,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run the simulation once: (summary, environment records limited to ENV_COLUMNS)."""
    params = load_scenario_params(scenario, overrides)
    result = simulate(params, seed=seed, progress=progress)
    envs = pd.DataFrame(result.environments, columns=list(ENV_COLUMNS))
    return dict(result.summary), envs.assign(horizon_s=float(params.run.days) * 86400.0)


def run_task(directory: Path, scenario: Scenario, task: Task, sink: _Sink | None = None) -> str:
    """Worker entry point: simulate one task and store it; returns the task key."""
    last = [0.0]

    def report(fraction: float) -> None:
        if sink is not None and fraction - last[0] >= 0.02:
            last[0] = fraction
            sink.put((task.key, fraction))

    summary, envs = simulate_once(scenario, task.point.overrides(), seed=task.seed, progress=report)
    write_run(directory, task, summary=summary, environments=envs)
    return task.key


def run_many(
    runs: Sequence[tuple[Mapping[str, Any], int]],
    *,
    scenario: Scenario,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """(summary, environment records) of ad-hoc runs (overrides, seed), in order; not stored."""
    workers = min(jobs or os.cpu_count() or 1, max(len(runs), 1))
    out: list[tuple[dict[str, Any], pd.DataFrame]] = []
    if workers <= 1:
        for k, (overrides, seed) in enumerate(runs):
            out.append(simulate_once(scenario, overrides, seed=seed))
            if progress is not None:
                progress(k + 1, k + 1, len(runs))
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(simulate_once, scenario, o, seed=s) for o, s in runs]
        for k, future in enumerate(futures):
            out.append(future.result())
            if progress is not None:
                progress(k + 1, k + 1, len(runs))
    return out


class _ListSink:
    def __init__(self, on_fraction: Callable[[str, float], None]) -> None:
        self._on_fraction = on_fraction

    def put(self, item: tuple[str, float]) -> None:
        self._on_fraction(*item)


def run_sweep(
    directory: Path,
    tasks: Sequence[Task],
    *,
    scenario: Scenario,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> SweepOutcome:
    """Run every task not already stored in `directory`; `jobs` processes (default: all cores)."""
    start = time.perf_counter()
    open_sweep(directory, scenario)
    todo = pending(directory, tasks)
    total, finished = len(todo), 0
    in_flight: dict[str, float] = {}

    def tick() -> None:
        if progress is not None:
            progress(finished + sum(in_flight.values()), finished, total)

    def on_fraction(key: str, fraction: float) -> None:
        in_flight[key] = fraction
        tick()

    workers = min(jobs or os.cpu_count() or 1, max(total, 1))
    tick()
    if workers <= 1:
        for task in todo:
            run_task(directory, scenario, task, _ListSink(on_fraction))
            in_flight.pop(task.key, None)
            finished += 1
            tick()
    else:
        with Manager() as manager, ProcessPoolExecutor(max_workers=workers) as pool:
            queue = manager.Queue()
            done_keys: set[str] = set()
            futures: set[Future[str]] = {
                pool.submit(run_task, directory, scenario, task, queue) for task in todo
            }
            while futures:
                done, futures = wait(futures, timeout=0.25, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        key, fraction = queue.get_nowait()
                    except Empty:
                        break
                    if key not in done_keys:
                        in_flight[key] = fraction
                for future in done:
                    if future.exception() is not None:  # stop queued runs, then re-raise
                        pool.shutdown(wait=True, cancel_futures=True)
                    key = future.result()
                    done_keys.add(key)
                    in_flight.pop(key, None)
                    finished += 1
                tick()
    return SweepOutcome(
        ran=total, skipped=len(tasks) - total, wall_seconds=time.perf_counter() - start
    )
