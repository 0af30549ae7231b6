"""Ports shared by the two shells (the Kubernetes controller and the simulation).

Each shell differs from the other only in how it observes, executes and tells
time; the decisions are `reconcile`'s. These protocols are what a shell
implements; the core never calls them itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from controller.core.actions import Action
from controller.core.types import DesiredState, ObservedState


class Clock(Protocol):
    """The time source: wall clock in production, SimPy's clock in simulation."""

    def now(self) -> datetime: ...


class Observer(Protocol):
    """Builds the desired and observed states from the world."""

    def desired(self) -> DesiredState: ...

    def observe(self) -> ObservedState: ...


class Executor(Protocol):
    """Carries out one action; its effect must be observable when it returns."""

    def execute(self, action: Action) -> None: ...
