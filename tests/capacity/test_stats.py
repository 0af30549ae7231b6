"""Confidence bounds and per-point aggregation on small hand-built tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.stats import (
    attainment_by_run,
    pareto_front,
    summarise_points,
    t_bounds,
    t_cdf,
    t_quantile,
    wilson_lower,
)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [  # reference values from standard t tables
        pytest.param(0.95, 1, 6.313752, id="df1"),
        pytest.param(0.95, 4, 2.131847, id="df4"),
        pytest.param(0.975, 10, 2.228139, id="df10"),
        pytest.param(0.99, 29, 2.462021, id="df29"),
        pytest.param(0.05, 4, -2.131847, id="lower-tail"),
    ],
)
def test_t_quantile_matches_tables(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-5)


@given(st.floats(-50, 50), st.integers(1, 200))
def test_t_cdf_is_symmetric(t: float, df: int) -> None:
    assert t_cdf(t, df) + t_cdf(-t, df) == pytest.approx(1.0, abs=1e-9)


def test_t_bounds() -> None:
    mean, low, high = t_bounds([0.9, 0.92, 0.94, 0.96, 0.98])
    sd = math.sqrt(sum((v - 0.94) ** 2 for v in [0.9, 0.92, 0.94, 0.96, 0.98]) / 4)
    assert mean == pytest.approx(0.94)
    assert low == pytest.approx(0.94 - 2.131847 * sd / math.sqrt(5), abs=1e-6)
    assert high - mean == pytest.approx(mean - low)
    assert t_bounds([0.8]) == (0.8, 0.8, 0.8)


def test_wilson_lower_known_values() -> None:
    # 95/100 at one-sided 95 % (z = 1.6449): hand-computed Wilson score bound.
    assert wilson_lower(95, 100) == pytest.approx(0.9012, abs=1e-3)
    assert wilson_lower(10, 10) == pytest.approx(10 / (10 + 1.6449**2), abs=1e-3)
    assert wilson_lower(0, 0) == 0.0


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_lower_is_below_the_estimate(k: int, n: int) -> None:
    k = min(k, n)
    assert 0.0 <= wilson_lower(k, n) <= k / n


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two pool sizes x two seeds; pool 0 is slow, pool 8 fast."""
    envs = []
    spinups = {0: [30, 120, 150, 60], 8: [20, 25, 30, 80]}
    for pool, values in spinups.items():
        for seed in (1, 2):
            for value in values:
                envs.append(
                    {
                        "pool_size": pool,
                        "concurrency": None,
                        "nodes": None,
                        "seed": seed,
                        "hour_of_day": 9,
                        "spinup_s": float(value + seed),
                        "requested_at_s": 0.0,
                        "closed_at_s": None,
                        "horizon_s": 86400.0,
                    }
                )
    never_ready = {
        "pool_size": 8,
        "concurrency": None,
        "nodes": None,
        "seed": 2,
        "hour_of_day": 9,
        "spinup_s": math.nan,
        "requested_at_s": 100.0,
        "closed_at_s": None,
        "horizon_s": 86400.0,
    }
    envs.append(never_ready)
    # Not eligible: closed within the SLA, or requested too close to the end of the run.
    envs.append({**never_ready, "closed_at_s": 150.0})
    envs.append({**never_ready, "requested_at_s": 86400.0 - 60})
    runs = pd.DataFrame(
        [
            {
                "pool_size": p,
                "concurrency": None,
                "nodes": None,
                "seed": s,
                "environments": 4 + (p == 8 and s == 2),
                "cost_usd": 10.0 + p,
                "node_hours": 1.0,
                "spinup_p95_s": 100.0,
                "queue_wait_p95_s": 0.0,
                "pool_utilisation": 0.5,
            }
            for p in (0, 8)
            for s in (1, 2)
        ]
    )
    return runs, pd.DataFrame(envs)


def test_attainment_by_run_counts_never_ready_as_missed() -> None:
    _, envs = _tables()
    att = attainment_by_run(envs, sla_seconds=90).set_index(["pool_size", "seed"])
    assert att.loc[(0, 1), "attainment"] == pytest.approx(0.5)
    assert att.loc[(8, 1), "attainment"] == pytest.approx(1.0)
    assert att.loc[(8, 2), "attainment"] == pytest.approx(4 / 5)  # one never-ready miss
    assert att.loc[(8, 2), "environments"] == 5  # two never-ready ones are not eligible


def test_summarise_points_takes_the_smaller_bound() -> None:
    runs, envs = _tables()
    points = summarise_points(runs, envs, sla_seconds=90).set_index("pool_size")
    p8 = points.loc[8]
    assert p8["seeds"] == 2
    assert p8["environments"] == 9
    assert p8["attainment"] == pytest.approx((1.0 + 0.8) / 2)
    assert p8["attainment_lower"] == min(p8["attainment_t_lower"], p8["attainment_wilson_lower"])
    assert p8["attainment_t_lower"] < p8["attainment"] < p8["attainment_t_upper"]
    assert points.loc[0, "cost_usd"] == 10.0


def test_pareto_front() -> None:
    table = pd.DataFrame(
        {"cost_usd": [1.0, 2.0, 2.0, 3.0, 4.0], "attainment": [0.5, 0.7, 0.6, 0.9, 0.9]}
    )
    assert list(pareto_front(table)) == [True, True, False, True, False]
