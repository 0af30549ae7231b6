"""The scenario files (scenarios/*.yaml), scaled down, on the cluster tier.

All six run at once on the shared cluster-tier control plane, once per
module (tests/k8s/scenario_cluster.py says how); each scenario
is then one test item that checks the expectations its `ClusterPlan` keeps
(as written or scaled) plus the cluster invariants, and reports the ones it
skips with the reason. The simulation checks the latency budgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.devcluster import ControlPlane
from sim.scenario_format import Expectation, load_scenario, parse_expectation, scenario_files
from tests.k8s.plane import mayfly_cluster_fixture  # noqa: F401
from tests.k8s.scenario_cluster import Outcome, run_all
from tests.k8s.scenario_plan import plan_for

pytestmark = pytest.mark.cluster

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PLANS = {p.stem: plan_for(load_scenario(p)) for p in scenario_files(SCENARIOS)}
INVARIANTS = ("unsettled == 0", "volumes_shared == 0", "not_gone == 0")


@pytest.fixture(scope="module")
def outcomes(mayfly_cluster: ControlPlane, tmp_path_factory: Any) -> dict[str, Outcome]:
    dirs = {stem: tmp_path_factory.mktemp(stem) for stem in PLANS}
    return run_all(mayfly_cluster, dirs, PLANS)


def test_every_scenario_file_has_a_plan() -> None:
    assert len(PLANS) >= 6
    for plan in PLANS.values():
        kept = {e.metric for e in plan.checks}
        assert "orphans" in kept, plan.name  # every scenario expects no orphans
        for expectation, reason in plan.skipped:
            assert reason, expectation


@pytest.mark.parametrize("stem", sorted(PLANS))
def test_scenario_on_the_cluster(outcomes: dict[str, Outcome], stem: str) -> None:
    out = outcomes[stem]
    plan = out.plan
    checks = list(plan.checks) + [_parse(text) for text in INVARIANTS]
    if plan.golden_refresh:
        checks.append(_parse("stale_slots == 0"))
    failed = []
    for exp in checks:
        holds, measured = exp.check(out.summary)
        if not holds:
            failed.append(f"  expected {exp}, measured {measured!r}")
    report = "\n".join(
        [f"scenario {plan.name} on the cluster: {out.summary}"]
        + [f"  scaled: {e} ({why})" for e, why in plan.scaled]
        + [f"  skipped: {e} ({why})" for e, why in plan.skipped]
        + [f"  failed environment: {text}" for text in out.failures]
        + [f"  database of {text}" for text in out.volumes]
    )
    print(report)
    assert not failed, "\n".join(failed) + "\n" + report


def _parse(text: str) -> Expectation:
    return parse_expectation(text, where="cluster invariant")
