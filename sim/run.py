"""`simulate(params, seed=...)`: build the world, run it, and return records and a summary.

Wires the workload, the controller shell around the real core, and the
simulated cluster into one SimPy environment, runs it for `run.days`, and
reduces the records to the summary the CLI prints and writes as JSON.
Deterministic for a seed (every generator is derived from it). It makes no
decisions about environments.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import simpy

from controller.blueprint_file import read_blueprint
from controller.core import Policy
from controller.core.blueprint import Blueprint, PoolSchedule, Quotas
from controller.core.memory import InMemoryCluster
from controller.core.ports import Clock, Executor, Observer
from controller.core.types import PRState
from sim.cluster import SimCluster
from sim.params import FaultParams, SimParams
from sim.records import Recorder
from sim.shell import ControllerShell
from sim.summary import summarise
from sim.workload import DAY, HOUR, PlanFactory, PullRequestPlan, pr_arrivals, pull_request_life

Proc = Generator[simpy.Event, Any, None]
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class SimResult:
    """What one run produced: a JSON-able summary, per-environment records, time series."""

    summary: dict[str, Any]
    environments: list[dict[str, Any]] = field(default_factory=list)
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # wall/CPU time, not deterministic


def blueprint_for(params: SimParams) -> Blueprint:
    """The run's blueprint with the capacity knobs of `params` applied."""
    path = Path(params.run.blueprint)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    bp = read_blueprint(path)
    pool = bp.pool
    if params.pool.size is not None:
        pool = PoolSchedule(
            default_size=params.pool.size,
            max_warming=pool.max_warming,
            utc_offset_hours=pool.utc_offset_hours,
        )
    if params.pool.max_warming is not None:
        pool = dataclasses.replace(pool, max_warming=params.pool.max_warming)
    bp = dataclasses.replace(bp, pool=pool)
    if params.admission.max_concurrent_provisions is not None:
        bp = dataclasses.replace(
            bp, max_concurrent_provisions=params.admission.max_concurrent_provisions
        )
    if params.admission.team_quota is not None:
        bp = dataclasses.replace(bp, quotas=Quotas(default_per_team=params.admission.team_quota))
    return bp


def controller_outages(env: simpy.Environment, shell: ControllerShell, faults: FaultParams) -> Proc:
    """Take the controller down for each outage, and run the crash loop if any."""
    events: list[tuple[float, bool]] = []
    for outage in faults.controller_down:
        events += [
            (outage.start_h * HOUR, False),
            (outage.start_h * HOUR + outage.duration_s, True),
        ]
    loop = faults.crash_loop
    if loop is not None:
        t = loop.start_h * HOUR
        while t < loop.end_h * HOUR:
            events += [(t + loop.up_s, False), (t + loop.up_s + loop.down_s, True)]
            t += loop.up_s + loop.down_s
    for at, up in sorted(events):
        yield env.timeout(max(at - env.now, 0.0))
        shell.set_up(up)


def golden_refresher(
    env: simpy.Environment, shell: ControllerShell, params: SimParams, *, until: float
) -> Proc:
    """A new golden snapshot nightly (and at any extra hours): the pool must rebuild."""
    times = [h * HOUR for h in params.cluster.extra_golden_refresh_h]
    hour = params.cluster.golden_refresh_hour
    if hour is not None:
        times += [d * DAY + hour * HOUR for d in range(int(until // DAY) + 1)]
    for at in sorted(t for t in times if 0 < t < until):
        yield env.timeout(at - env.now)
        shell.cluster.refresh_golden()
        shell.mark_dirty()


def metrics_sampler(env: simpy.Environment, shell: ControllerShell, every: float) -> Proc:
    """Sample concurrency, queue depth, pool and in-flight provisions."""
    while True:
        shell.recorder.sample(t=env.now, pool_ready=shell.pool_ready())
        yield env.timeout(every)


@contextmanager
def _no_collections() -> Iterator[None]:
    """Leave the cyclic garbage collector off while the model runs.

    A run allocates millions of short-lived values and next to no cycles
    (reference counting frees them): a 10-day run left 61 objects for the
    collector to find, and its passes over the young objects cost ~3% of the
    run (~8% with the default thresholds). It is switched back on afterwards,
    with what the run left alive frozen (`gc.freeze`), or the collector's first
    pass would walk every object the run allocated.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _start_life(env: simpy.Environment, plan: PullRequestPlan, shell: ControllerShell) -> None:
    env.process(pull_request_life(env, plan, shell))


def simulate(
    params: SimParams, *, seed: int, progress: Callable[[float], None] | None = None
) -> SimResult:
    """Run the model once; the same params and seed give the same result."""
    wall = time.perf_counter()
    cpu = time.process_time()
    bp = blueprint_for(params)
    w = params.workload
    local_start = datetime.fromisoformat(params.run.start).replace(tzinfo=UTC)
    start = local_start - timedelta(hours=w.utc_offset_hours)
    env = simpy.Environment()
    recorder = Recorder(utc_offset_hours=w.utc_offset_hours)
    cluster = InMemoryCluster(now=start)
    shell = ControllerShell(
        env,
        blueprint=bp,
        policy=Policy(),
        cluster=cluster,
        params=params.cluster,
        recorder=recorder,
        start=start,
    )
    ports: tuple[Clock, Observer, Executor] = (shell, shell, shell)  # the shared port protocols
    del ports
    shell.sim_cluster = SimCluster(
        env,
        cluster,
        params=params.cluster,
        faults=params.faults,
        rng=random.Random(f"{seed}:cluster"),
        clock=shell.now,
        on_change=shell.mark_dirty,
        listener=recorder,
    )
    factory = PlanFactory(w, bp, random.Random(f"{seed}:workload"))
    until = params.run.days * DAY
    env.process(
        pr_arrivals(
            env,
            w,
            factory,
            rng=random.Random(f"{seed}:arrivals"),
            start=lambda plan: _start_life(env, plan, shell),
        )
    )
    shell.controller_loop()
    env.process(metrics_sampler(env, shell, params.run.sample_every_s))
    env.process(golden_refresher(env, shell, params, until=until))
    env.process(controller_outages(env, shell, params.faults))
    events = 0
    next_report = 0.0
    with _no_collections():
        while env.peek() < until:
            env.step()
            events += 1
            if progress is not None and env.now >= next_report:
                progress(min(env.now / until, 1.0))
                next_report = env.now + until / 200
    if progress is not None:
        progress(1.0)
    cluster.now = shell.now()
    observed = cluster.observe()
    closed_at = {
        key: rec.closed_at_s for key, rec in recorder.open.items() if rec.closed_at_s is not None
    }
    orphans = 0
    for obs in observed.environments:
        pr = shell.prs.get(obs.key)
        gone_pr = pr is None or pr.state is not PRState.OPEN
        since = closed_at.get(obs.key, 0.0)
        if gone_pr and (obs.has_resources or obs.finalizer):
            orphans += until - since >= params.run.orphan_grace_s
    summary = summarise(
        recorder,
        params=params,
        prs=factory.serial,
        orphans=orphans,
        events=events,
        hung=shell.sim_cluster.hung,
        capacity_waits=shell.sim_cluster.capacity_waits,
        capacity_blocked=shell.sim_cluster.capacity_blocked,
    )
    summary["wall_seconds"] = round(time.perf_counter() - wall, 3)
    timings = {
        "wall_seconds": summary["wall_seconds"],
        "cpu_seconds": round(time.process_time() - cpu, 3),
        # perf_counter (wall) seconds in the core and the observer (see ControllerShell)
        "reconcile_seconds": round(shell.reconcile_seconds, 3),
        "observe_seconds": round(shell.observe_seconds, 3),
    }
    return SimResult(summary, recorder.rows(), list(recorder.samples), timings)


def result_frames(result: SimResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(environments, timeseries) as pandas DataFrames."""
    return pd.DataFrame(result.environments), pd.DataFrame(result.timeseries)
