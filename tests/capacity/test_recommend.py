"""Recommendation and hourly schedule on hand-built tables, and the Blueprint snippet."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
import yaml

from capacity.recommend import recommend
from controller.core.blueprint import load_blueprint

# Spin-up (s) per pool size and hour: pool 0 is slow at 9 and 15; pool 4 fixes 9; 8 fixes both.
SPINUP = {
    0: {9: 200.0, 15: 200.0, 20: 10.0},
    4: {9: 20.0, 15: 200.0, 20: 10.0},
    8: {9: 20.0, 15: 20.0, 20: 10.0},
}


def _tables(
    cost_by_pool: dict[int, float], spinup: dict[int, dict[int, float]] = SPINUP
) -> tuple[pd.DataFrame, pd.DataFrame]:
    envs, runs = [], []
    for pool, by_hour in spinup.items():
        for seed in (1, 2, 3):
            for hour, spin in by_hour.items():
                for k in range(20):
                    envs.append(
                        {
                            "pool_size": pool,
                            "concurrency": 20.0,
                            "nodes": None,
                            "seed": seed,
                            "hour_of_day": hour,
                            "requested_at_s": hour * 3600.0 + k,
                            "spinup_s": spin + k,
                            "closed_at_s": None,
                            "horizon_s": 86400.0,
                        }
                    )
            runs.append(
                {
                    "pool_size": pool,
                    "concurrency": 20.0,
                    "nodes": None,
                    "seed": seed,
                    "cost_usd": cost_by_pool[pool],
                    "node_hours": 24.0,
                    "spinup_p95_s": 1.0,
                    "queue_wait_p95_s": 0.0,
                    "pool_utilisation": 0.5,
                }
            )
    return pd.DataFrame(runs), pd.DataFrame(envs)


def test_cheapest_qualifying_setting_and_schedule() -> None:
    runs, envs = _tables({0: 10.0, 4: 10.0, 8: 10.0})
    rec = recommend(runs, envs, sla_seconds=90, target=0.95)
    assert rec.setting is not None
    assert rec.setting["pool_size"] == 8  # only pool 8 meets it in every hour
    assert rec.setting["concurrency"] == 20
    assert rec.setting["nodes"] is None
    sizes = {p.hour: p.size for p in rec.schedule}
    assert sizes[9] == 4
    assert sizes[15] == 8
    assert sizes[14] == 8  # pre-warmed one hour ahead of the 15:00 need
    assert sizes[8] == 4
    assert sizes[20] == 0
    assert sizes[3] == 0  # nobody asks at 3:00
    assert all(p.met for p in rec.schedule)


def test_no_setting_meets_an_impossible_target() -> None:
    runs, envs = _tables({0: 1.0, 4: 2.0, 8: 3.0})
    rec = recommend(runs, envs, sla_seconds=10, target=0.99)
    assert rec.setting is None
    assert rec.schedule == ()
    assert 0.0 <= rec.best_lower < 0.99
    with pytest.raises(ValueError, match="nothing to write"):
        rec.pool_snippet()


def test_cheaper_point_wins_when_both_qualify() -> None:
    runs, envs = _tables({0: 1.0, 4: 2.0, 8: 3.0})
    assert recommend(runs, envs, sla_seconds=250, target=0.9).setting["pool_size"] == 0  # type: ignore[index]


def test_pool_snippet_is_a_valid_blueprint_pool() -> None:
    runs, envs = _tables({0: 10.0, 4: 10.0, 8: 10.0})
    rec = recommend(runs, envs, sla_seconds=90, target=0.95)
    snippet = yaml.safe_load(rec.pool_yaml())
    assert snippet == rec.pool_snippet()
    hours = snippet["pool"]["hours"]
    assert [h["hour"] for h in hours] == sorted(h["hour"] for h in hours)
    assert all(a["size"] != b["size"] for a, b in itertools.pairwise(hours))
    blueprint = yaml.safe_load(Path("examples/blueprint.yaml").read_text())
    bp = load_blueprint({**blueprint, "pool": {**blueprint["pool"], **snippet["pool"]}})
    assert [bp.pool.size_at(h) for h in range(24)] == [p.size for p in rec.schedule]


def test_hour_out_of_reach_takes_the_smallest_size_with_the_best_attainment() -> None:
    # At 22:00 spin-up is k + 80 s (pool 0) or k + 75 s (pools 4, 8) for k = 0..19:
    # 55 % vs 80 % within 90 s; no pool reaches 90 %, and 8 is no better than 4.
    spinup = {pool: {**hours, 22: 80.0 if pool == 0 else 75.0} for pool, hours in SPINUP.items()}
    runs, envs = _tables({0: 10.0, 4: 10.0, 8: 10.0}, spinup)
    rec = recommend(runs, envs, sla_seconds=90, target=0.9)
    assert rec.setting is not None
    assert rec.setting["pool_size"] == 8
    plan = {p.hour: p for p in rec.schedule}
    assert (plan[22].size, plan[22].met) == (4, False)
    assert plan[22].attainment == pytest.approx(0.8)
    assert plan[21].size == 4  # pre-warmed for 22:00
    assert plan[15].size == 8
