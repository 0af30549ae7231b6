"""`plan_for`: what each shipped scenario file means on the cluster tier (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario_format import load_scenario
from tests.k8s.scenario_plan import ClusterPlan, plan_for

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _plan(stem: str) -> ClusterPlan:
    return plan_for(load_scenario(SCENARIOS / f"{stem}.yaml"))


@pytest.mark.parametrize(
    ("stem", "prs", "burst", "pool", "clone_failures", "restarts", "refresh"),
    [
        pytest.param("normal-week", 3, False, 3, 0, 0, False, id="normal-week"),
        pytest.param("monday-morning-burst", 5, True, 3, 0, 0, False, id="monday"),
        pytest.param("release-cut-burst", 6, True, 3, 0, 0, False, id="release-cut"),
        pytest.param("clone-failures", 3, False, 0, 1, 0, False, id="clone-failures"),
        pytest.param("controller-crash-loop", 3, False, 3, 0, 2, False, id="crash-loop"),
        pytest.param("pool-refresh-during-peak", 3, False, 3, 0, 0, True, id="refresh"),
    ],
)
def test_each_scenario_scales_down(
    stem: str, prs: int, burst: bool, pool: int, clone_failures: int, restarts: int, refresh: bool
) -> None:
    plan = _plan(stem)
    got = (plan.prs, plan.burst, plan.pool_size, plan.clone_failures, plan.crash_restarts,
           plan.golden_refresh)  # fmt: skip
    assert got == (prs, burst, pool, clone_failures, restarts, refresh)


def test_every_expectation_is_checked_scaled_or_skipped_with_a_reason() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        sc = load_scenario(path)
        plan = plan_for(sc)
        accounted = {e.metric for e in plan.checks} | {t.split()[0] for t, _ in plan.skipped}
        assert accounted == {e.metric for e in sc.expect}, sc.name
        assert all(reason for _, reason in plan.skipped)


def test_latency_budgets_are_left_to_the_sim_and_failures_are_scaled() -> None:
    burst = _plan("monday-morning-burst")
    assert {t for t, _ in burst.skipped} == {"spinup_p50_s < 30", "spinup_p95_s < 90"}
    clones = _plan("clone-failures")
    assert [str(e) for e in clones.checks if e.metric == "environments_with_failures"] == [
        "environments_with_failures >= 1"
    ]
    assert "api_conflicts == 0" in {t for t, _ in _plan("controller-crash-loop").skipped}
