"""The lifecycle of an environment as two tables: how a phase is derived, and where it may go.

`PHASE_RULES` is an ordered decision table: the first row whose guard holds
for an environment's `Facts` gives its phase. Facts are rebuilt from the
observed world every time, so the phase is never remembered, only derived.
`TRANSITIONS` lists every legal move between phases; the property tests check
that no sequence of events ever produces a move outside it, and the trace
validator uses it on recorded phase histories.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from controller.core.types import Phase, Reason, Step, StepStatus


class Facts(NamedTuple):
    """What reconcile knows about one environment, reduced to what decides its phase."""

    wanted: bool
    unwanted_reason: Reason
    admitted: bool
    admit_now: bool
    has_resources: bool
    terminating: bool
    finalizer: bool
    next_step: Step | None
    via_slot: bool
    failed: bool
    updating: bool


Guard = Callable[[Facts], bool]

_EXPIRY = (Reason.TTL_EXPIRED, Reason.IDLE_EXPIRED)

PHASE_RULES: tuple[tuple[str, Guard, Phase], ...] = (
    (
        "nothing left and nothing wanted",
        lambda f: not f.wanted and not (f.has_resources or f.admitted or f.finalizer),
        Phase.GONE,
    ),
    ("namespace still terminating", lambda f: f.terminating, Phase.TEARING_DOWN),
    (
        "expired, teardown not started",
        lambda f: not f.wanted and f.unwanted_reason in _EXPIRY,
        Phase.EXPIRED,
    ),
    ("closed, deleted or draft", lambda f: not f.wanted, Phase.TEARING_DOWN),
    ("waiting for admission", lambda f: not f.admitted and not f.admit_now, Phase.QUEUED),
    ("admitted in this round", lambda f: not f.admitted, Phase.PENDING),
    ("a step failed", lambda f: f.failed, Phase.FAILED),
    ("new push on a deployed environment", lambda f: f.updating, Phase.UPDATING),
    (
        "volume from the warm pool",
        lambda f: f.next_step is Step.VOLUME and f.via_slot,
        Phase.CLAIMING,
    ),
    ("volume cloned from snapshot", lambda f: f.next_step is Step.VOLUME, Phase.CLONING),
    ("migrations", lambda f: f.next_step is Step.MIGRATIONS, Phase.MIGRATING),
    ("masking", lambda f: f.next_step is Step.MASKING, Phase.MASKING),
    ("deploying services", lambda f: f.next_step is Step.DEPLOY, Phase.DEPLOYING),
    ("applying routes", lambda f: f.next_step is Step.ROUTES, Phase.ROUTING),
    ("everything done", lambda f: True, Phase.READY),
)


@lru_cache(maxsize=4096)
def derive_phase(facts: Facts) -> Phase:
    """The phase of the first rule whose guard holds (memoised: facts are few and hashable)."""
    for _name, guard, phase in PHASE_RULES:
        if guard(facts):
            return phase
    raise AssertionError("PHASE_RULES ends with a catch-all row")  # pragma: no cover


@lru_cache(maxsize=4096)
def phase_of(
    wanted: bool,
    unwanted_reason: Reason,
    admitted: bool,
    admit_now: bool,
    has_resources: bool,
    terminating: bool,
    finalizer: bool,
    next_step: Step | None,
    via_slot: bool,
    failed: bool,
    updating: bool,
) -> Phase:
    """`derive_phase` of the facts given in `Facts` order (reconcile's hot path: no tuple built)."""
    return derive_phase(
        Facts(
            wanted,
            unwanted_reason,
            admitted,
            admit_now,
            has_resources,
            terminating,
            finalizer,
            next_step,
            via_slot,
            failed,
            updating,
        )
    )


STEP_PHASE: dict[Step, Phase] = {
    Step.MIGRATIONS: Phase.MIGRATING,
    Step.MASKING: Phase.MASKING,
    Step.DEPLOY: Phase.DEPLOYING,
    Step.ROUTES: Phase.ROUTING,
}

STEP_FAILURE: dict[Step, Reason] = {
    Step.VOLUME: Reason.CLONE_FAILED,
    Step.MIGRATIONS: Reason.MIGRATIONS_FAILED,
    Step.MASKING: Reason.MASKING_FAILED,
    Step.DEPLOY: Reason.DEPLOY_FAILED,
    Step.ROUTES: Reason.ROUTING_FAILED,
}

STEP_ORDER: tuple[Step, ...] = tuple(Step)

PROVISIONING: frozenset[Phase] = frozenset(
    {
        Phase.CLAIMING,
        Phase.CLONING,
        Phase.MIGRATING,
        Phase.MASKING,
        Phase.DEPLOYING,
        Phase.ROUTING,
    }
)
LIVE: frozenset[Phase] = PROVISIONING | {Phase.READY, Phase.UPDATING, Phase.FAILED}
ENDING: frozenset[Phase] = frozenset({Phase.EXPIRED, Phase.TEARING_DOWN})
WAITING: frozenset[Phase] = frozenset({Phase.PENDING, Phase.QUEUED})

# Every legal move (a phase may also stay where it is). Live environments may go
# back to an earlier provisioning phase: a new push restarts the steps, and
# objects deleted by hand are re-created.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: LIVE | ENDING | WAITING | {Phase.GONE},
    Phase.QUEUED: LIVE | ENDING | WAITING | {Phase.GONE},
    **dict.fromkeys(LIVE, LIVE | ENDING),
    Phase.EXPIRED: LIVE | ENDING | WAITING | {Phase.GONE},
    Phase.TEARING_DOWN: LIVE | ENDING | WAITING | {Phase.GONE},
    Phase.GONE: WAITING | {Phase.GONE, Phase.TEARING_DOWN},
}


def is_legal(source: Phase, target: Phase) -> bool:
    """Whether the lifecycle allows moving from `source` to `target`."""
    return source == target or target in TRANSITIONS[source]


def in_flight(phase: Phase) -> bool:
    """Phases that count against the global cap on concurrent provisions."""
    return phase in PROVISIONING or phase is Phase.UPDATING


def step_is_done(status: StepStatus | None) -> bool:
    return status is StepStatus.SUCCEEDED
