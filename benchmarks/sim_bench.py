"""Benchmark of the simulation: 500 engineers, 30 simulated days, default parameters.

Records wall time, simulated events per second, reconcile calls and the time
spent inside the core, and peak memory (ru_maxrss), with machine facts and
the load average before and after (the CPU is shared), into
benchmarks/results/sim.json. Usage: `python benchmarks/sim_bench.py [--days 30]`
(named sim_bench.py: a script named sim.py would shadow the `sim` package).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
from datetime import UTC, datetime
from pathlib import Path

from loadtests import machine
from sim.params import load_params
from sim.run import simulate

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--engineers", type=int, default=500)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS / "sim.json")
    args = parser.parse_args()
    params = load_params(
        overrides={
            "run.days": args.days,
            "workload.engineers": args.engineers,
            "workload.teams": args.teams,
        }
    )
    load_before = os.getloadavg()
    started = datetime.now(UTC)

    def progress(fraction: float) -> None:
        print(f"\r{fraction:6.1%}", end="", file=sys.stderr, flush=True)

    result = simulate(params, seed=args.seed, progress=progress)
    print(file=sys.stderr)
    load_after = os.getloadavg()
    s, t = result.summary, result.timings
    wall = t["wall_seconds"]
    # seconds inside reconcile and observe, as the shell measures them (wall clock)
    core, observe = t["reconcile_seconds"], t["observe_seconds"]
    record = {
        "benchmark": "sim",
        "started_utc": started.isoformat(timespec="seconds"),
        "git_commit": machine.facts()["commit"],
        "engineers": args.engineers,
        "teams": args.teams,
        "days": args.days,
        "seed": args.seed,
        "wall_seconds": wall,
        "target_wall_seconds_for_30_days": 20.0,
        "sim_events": s["sim_events"],
        "events_per_second": round(s["sim_events"] / wall, 1),
        "reconcile_calls": s["reconcile_calls"],
        "cpu_seconds": t["cpu_seconds"],
        "reconcile_seconds": core,
        "observe_seconds": observe,
        "core_share": round((core + observe) / max(wall, 1e-9), 3),
        "reconcile_ms_mean": round(1000 * core / max(s["reconcile_calls"], 1), 3),
        "reconcile_us_per_pr": round(
            1e6 * core / max(s["reconcile_calls"] * (s["reconcile_mean_prs"] or 1), 1), 1
        ),
        "reconcile_mean_prs": s["reconcile_mean_prs"],
        "reconcile_mean_envs": s["reconcile_mean_envs"],
        "events_per_cpu_second": round(s["sim_events"] / max(t["cpu_seconds"], 1e-9), 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "prs": s["prs"],
        "environments": s["environments"],
        "machine": {
            **machine.facts(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in load_after],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
