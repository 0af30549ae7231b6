"""Sweeps on the real simulation: storage, resume, agreement with the sim's summary, sharding."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from capacity.grid import build_points, build_tasks
from capacity.runner import run_sweep
from capacity.stats import attainment_by_run
from capacity.store import Scenario, StoreError, load_sweep, merge
from tests.capacity.conftest import MAYFLY, POOLS, SEEDS, TINY, TINY_CLI


def test_sweep_writes_one_row_per_point_and_seed(tiny_sweep: Path) -> None:
    runs, envs = load_sweep(tiny_sweep)
    assert sorted(zip(runs["pool_size"], runs["seed"], strict=True)) == [
        (p, s) for p in POOLS for s in SEEDS
    ]
    assert {"sla_attainment", "spinup_p95_s", "cost_usd", "environments"} <= set(runs.columns)
    assert len(list((tiny_sweep / "runs").glob("*.json"))) == 4
    assert len(envs) == runs["environments"].sum()
    assert envs["hour_of_day"].between(0, 23).all()


def test_attainment_from_records_equals_the_sim_summary(tiny_sweep: Path) -> None:
    runs, envs = load_sweep(tiny_sweep)
    ours = attainment_by_run(envs, sla_seconds=90.0)
    both = runs.merge(ours, on=["pool_size", "concurrency", "nodes", "seed"])
    assert len(both) == 4
    assert both["attainment"].to_numpy() == pytest.approx(
        both["sla_attainment"].to_numpy(), abs=1e-4
    )


def test_resume_runs_only_missing_tasks(tiny_sweep: Path) -> None:
    tasks = build_tasks(build_points(POOLS), SEEDS)
    again = run_sweep(tiny_sweep, tasks, scenario=TINY, jobs=1)
    assert (again.ran, again.skipped) == (0, 4)
    with pytest.raises(StoreError, match="different scenario"):
        run_sweep(tiny_sweep, tasks, scenario=Scenario(days=2.0), jobs=1)


def test_shards_run_as_processes_merge_to_the_unsharded_sweep(
    tiny_sweep: Path, tmp_path: Path
) -> None:
    pools = ",".join(map(str, POOLS))
    shards = [tmp_path / f"shard-{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            [
                MAYFLY,
                "capacity",
                "sweep",
                "--out",
                str(d),
                "--pool-sizes",
                pools,
                "--seeds",
                str(len(SEEDS)),
                *TINY_CLI,
                "--jobs",
                "1",
                "--shard",
                f"{i}/3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, d in enumerate(shards)
    ]
    for proc in procs:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output
    merged = tmp_path / "merged"
    done = subprocess.run(
        [MAYFLY, "capacity", "merge", *map(str, shards), "--out", str(merged)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sharded_runs, sharded_envs = load_sweep(merged)
    runs, envs = load_sweep(tiny_sweep)
    assert [len(load_sweep(d)[0]) for d in shards] == [2, 1, 1]
    pd.testing.assert_frame_equal(
        sharded_runs.drop(columns="wall_seconds"), runs.drop(columns="wall_seconds")
    )
    pd.testing.assert_frame_equal(sharded_envs, envs)


def test_merge_refuses_mixed_scenarios(tiny_sweep: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    run_sweep(
        other,
        build_tasks(build_points((0,)), (1,)),
        scenario=Scenario(days=0.5, overrides=TINY.overrides),
        jobs=1,
    )
    with pytest.raises(StoreError, match="different scenario"):
        merge([tiny_sweep, other], tmp_path / "out")


def test_a_failing_worker_stops_the_sweep_with_its_error(tmp_path: Path) -> None:
    from sim.params import ParamsError

    bad = Scenario(days=1.0, overrides={"cluster.nodez": 3})
    tasks = build_tasks(build_points((0, 2, 4)), (1, 2))
    with pytest.raises(ParamsError, match="nodez"):
        run_sweep(tmp_path / "bad", tasks, scenario=bad, jobs=2)
    assert not list((tmp_path / "bad" / "runs").glob("*.json"))
