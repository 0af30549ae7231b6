"""The pure reconciliation core: types, `reconcile()`, lifecycle, admission, pool, routing.

No I/O, no clock, no randomness, and no imports beyond the standard library
and networkx (an import-linter contract enforces it). The production
controller and the simulation both call `reconcile` and differ only in how
they observe and execute.
"""

from controller.core.actions import Action, Plan
from controller.core.blueprint import Blueprint, load_blueprint
from controller.core.policy import Policy
from controller.core.reconcile import reconcile
from controller.core.types import (
    DesiredState,
    EnvKey,
    EnvStatus,
    ObservedEnvironment,
    ObservedState,
    Phase,
    PRState,
    PullRequest,
    Reason,
    Slot,
    SlotState,
    Step,
    StepRecord,
    StepStatus,
)

__all__ = [
    "Action",
    "Blueprint",
    "DesiredState",
    "EnvKey",
    "EnvStatus",
    "ObservedEnvironment",
    "ObservedState",
    "PRState",
    "Phase",
    "Plan",
    "Policy",
    "PullRequest",
    "Reason",
    "Slot",
    "SlotState",
    "Step",
    "StepRecord",
    "StepStatus",
    "load_blueprint",
    "reconcile",
]
