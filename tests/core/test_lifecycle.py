"""The lifecycle tables: phase derivation row by row, and legal transitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core import lifecycle
from controller.core.lifecycle import Facts, derive_phase
from controller.core.types import Phase, Reason, Step

BASE = Facts(
    wanted=True,
    unwanted_reason=Reason.NONE,
    admitted=True,
    admit_now=False,
    has_resources=True,
    terminating=False,
    finalizer=True,
    next_step=None,
    via_slot=False,
    failed=False,
    updating=False,
)


def facts(**changes: object) -> Facts:
    return BASE._replace(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "phase"),
    [
        pytest.param(
            {"wanted": False, "has_resources": False, "admitted": False, "finalizer": False},
            Phase.GONE,
            id="nothing-left",
        ),
        pytest.param({"terminating": True}, Phase.TEARING_DOWN, id="namespace-terminating"),
        pytest.param(
            {"wanted": False, "unwanted_reason": Reason.TTL_EXPIRED}, Phase.EXPIRED, id="ttl"
        ),
        pytest.param(
            {"wanted": False, "unwanted_reason": Reason.IDLE_EXPIRED}, Phase.EXPIRED, id="idle"
        ),
        pytest.param(
            {"wanted": False, "unwanted_reason": Reason.PR_CLOSED}, Phase.TEARING_DOWN, id="closed"
        ),
        pytest.param({"admitted": False, "has_resources": False}, Phase.QUEUED, id="queued"),
        pytest.param({"admitted": False, "admit_now": True}, Phase.PENDING, id="admitted-now"),
        pytest.param({"failed": True, "next_step": Step.MASKING}, Phase.FAILED, id="failed"),
        pytest.param({"updating": True, "next_step": Step.DEPLOY}, Phase.UPDATING, id="new-push"),
        pytest.param({"next_step": Step.VOLUME, "via_slot": True}, Phase.CLAIMING, id="claim"),
        pytest.param({"next_step": Step.VOLUME}, Phase.CLONING, id="clone"),
        pytest.param({"next_step": Step.MIGRATIONS}, Phase.MIGRATING, id="migrations"),
        pytest.param({"next_step": Step.MASKING}, Phase.MASKING, id="masking"),
        pytest.param({"next_step": Step.DEPLOY}, Phase.DEPLOYING, id="deploy"),
        pytest.param({"next_step": Step.ROUTES}, Phase.ROUTING, id="routes"),
        pytest.param({}, Phase.READY, id="ready"),
    ],
)
def test_phase_rules(changes: dict[str, object], phase: Phase) -> None:
    assert derive_phase(facts(**changes)) is phase


@given(st.builds(Facts))
def test_every_fact_combination_has_a_phase(f: Facts) -> None:
    assert derive_phase(f) in set(Phase)


@given(st.from_type(Phase))
def test_every_phase_has_a_transition_row(phase: Phase) -> None:
    assert phase in lifecycle.TRANSITIONS
    assert lifecycle.is_legal(phase, phase)


@pytest.mark.parametrize(
    ("source", "target", "legal"),
    [
        pytest.param(Phase.QUEUED, Phase.CLAIMING, True, id="admitted"),
        pytest.param(Phase.READY, Phase.UPDATING, True, id="push"),
        pytest.param(Phase.MASKING, Phase.FAILED, True, id="fail"),
        pytest.param(Phase.FAILED, Phase.MASKING, True, id="retry"),
        pytest.param(Phase.TEARING_DOWN, Phase.GONE, True, id="gone"),
        pytest.param(Phase.GONE, Phase.READY, False, id="no-resurrection-to-ready"),
        pytest.param(Phase.GONE, Phase.MASKING, False, id="gone-needs-admission"),
        pytest.param(Phase.READY, Phase.GONE, False, id="ready-must-tear-down-first"),
        pytest.param(Phase.MASKING, Phase.QUEUED, False, id="no-requeue-when-admitted"),
    ],
)
def test_transitions(source: Phase, target: Phase, legal: bool) -> None:
    assert lifecycle.is_legal(source, target) is legal


def test_every_derivable_phase_is_reachable_in_the_table() -> None:
    targets = set().union(*lifecycle.TRANSITIONS.values())
    assert {rule[2] for rule in lifecycle.PHASE_RULES} <= targets
