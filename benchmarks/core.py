"""Benchmark of `reconcile`: one environment, and 500 live environments plus a full pool.

Targets (issue 2): median under 50 microseconds for one environment, under
20 ms for 500 live environments and a full warm pool in one call. Writes
benchmarks/results/core.json and prints a summary. Run with `make bench` or
`.venv/bin/python benchmarks/core.py`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.blueprint_file import read_blueprint
from controller.core import (
    DesiredState,
    EnvKey,
    ObservedEnvironment,
    ObservedState,
    Policy,
    PullRequest,
    Slot,
    SlotState,
    Step,
    StepRecord,
    StepStatus,
    reconcile,
)
from controller.core.memo import QuietMemo
from controller.core.naming import namespace_for
from controller.core.reconcile import reconcile as _reconcile_fn
from loadtests import machine

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 6, 11, 0, tzinfo=UTC)


def ready_world(count: int, pool: int) -> tuple[DesiredState, ObservedState]:
    """`count` Ready environments over 40 teams and `pool` ready warm slots."""
    bp = read_blueprint(ROOT / "examples" / "blueprint.yaml")
    bp = dataclasses.replace(
        bp,
        quotas=dataclasses.replace(bp.quotas, default_per_team=100, teams=()),
        pool=dataclasses.replace(bp.pool, hours=(), default_size=pool),
    )
    opened = NOW - timedelta(hours=3)
    prs, envs, slots = [], [], []
    for n in range(1, count + 1):
        sha = f"{n:040x}"
        pr = PullRequest(
            repository="acme/shop",
            number=n,
            head_sha=sha,
            base_sha="b" * 40,
            team=f"team-{n % 40}",
            author="dev",
            opened_at=opened,
            updated_at=opened,
            changed_paths=("services/orders/handler.py",),
        )
        prs.append(pr)
        steps = tuple(
            StepRecord(
                step=s,
                sha="" if s is Step.VOLUME else sha,
                status=StepStatus.SUCCEEDED,
                started_at=opened,
                finished_at=opened,
            )
            for s in (Step.VOLUME, Step.DEPLOY, Step.ROUTES)
        )
        envs.append(
            ObservedEnvironment(
                key=pr.key,
                team=pr.team,
                finalizer=True,
                admitted=True,
                namespace_exists=True,
                slot_id=f"vol-{n}",
                steps=steps,
                db_access_sha=sha,
                first_seen=opened,
            )
        )
        slots.append(Slot(f"vol-{n}", 1, SlotState.CLAIMED, opened, EnvKey("acme/shop", n)))
    for i in range(pool):
        slots.append(Slot(f"shop-g1-{i}", 1, SlotState.READY, opened))
    desired = DesiredState(bp, tuple(prs))
    observed = ObservedState(tuple(envs), tuple(slots), 1)
    # settle statuses once so the measured call is the steady state
    plan = reconcile(desired, observed, now=NOW, policy=Policy())
    statuses = {a.key: a.status for a in plan.actions if hasattr(a, "status")}  # type: ignore[union-attr]
    observed = dataclasses.replace(
        observed,
        environments=tuple(
            dataclasses.replace(e, status=statuses.get(e.key, e.status)) for e in envs
        ),
    )
    assert namespace_for(EnvKey("acme/shop", 1))
    return desired, observed


def measure(
    desired: DesiredState, observed: ObservedState, *, repeat: int, cold: bool
) -> dict[str, float]:
    """Wall and CPU time per call. Cold: a fresh memo each call, so every environment is
    computed from scratch; warm: the memo of quiet environments from the previous call."""
    policy = Policy()
    wall, cpu = [], []
    for _ in range(repeat):
        memo = QuietMemo() if cold else None
        start, start_cpu = time.perf_counter(), time.thread_time()
        plan = _reconcile_fn(desired, observed, now=NOW, policy=policy, memo=memo)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    assert not plan.actions, plan.actions[:3]
    wall.sort()
    return {
        "median_us": statistics.median(wall) * 1e6,
        "cpu_median_us": statistics.median(cpu) * 1e6,
        "p95_us": wall[int(len(wall) * 0.95) - 1] * 1e6,
        "min_us": wall[0] * 1e6,
        "calls": repeat,
    }


def main() -> None:
    # No options; --help must explain rather than run (and overwrite core.json).
    argparse.ArgumentParser(description=__doc__).parse_args()
    one_world, many_world = ready_world(1, 0), ready_world(500, 24)
    result: dict[str, object] = {}
    for mode in ("cold", "warm"):
        one = measure(*one_world, repeat=5000, cold=mode == "cold")
        many = measure(*many_world, repeat=100, cold=mode == "cold")
        result[f"one_environment_{mode}"] = {**one, "target_median_us": 50}
        result[f"500_environments_full_pool_{mode}"] = {**many, "target_median_us": 20000}
        print(
            f"{mode}: 1 environment median {one['median_us']:.1f} us wall "
            f"({one['cpu_median_us']:.1f} us CPU; target < 50 us); 500 envs + pool median "
            f"{many['median_us'] / 1000:.2f} ms wall ({many['cpu_median_us'] / 1000:.2f} ms CPU; "
            "target < 20 ms)"
        )
    result["machine"] = {**machine.facts(), "load_avg_1m": os.getloadavg()[0]}
    result["command"] = ".venv/bin/python benchmarks/core.py"
    out = ROOT / "benchmarks" / "results" / "core.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
