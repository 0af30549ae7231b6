"""Controller-wide policy: retries, backoff and step timeouts (not per blueprint).

Blueprint settings describe an application; the policy describes how this
controller behaves toward failures. Both are plain values handed to
`reconcile`, so the simulation can sweep them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from controller.core.types import Step

_DEFAULT_TIMEOUTS: tuple[tuple[Step, timedelta], ...] = (
    (Step.VOLUME, timedelta(minutes=10)),
    (Step.MIGRATIONS, timedelta(minutes=15)),
    (Step.MASKING, timedelta(minutes=10)),
    (Step.DEPLOY, timedelta(minutes=10)),
    (Step.ROUTES, timedelta(minutes=2)),
)


@dataclass(frozen=True, slots=True)
class Policy:
    """How failures are retried and how long a step may run before it counts as hung."""

    max_attempts: int = 3
    backoff_base: timedelta = timedelta(seconds=10)
    backoff_max: timedelta = timedelta(minutes=5)
    step_timeouts: tuple[tuple[Step, timedelta], ...] = field(default=_DEFAULT_TIMEOUTS)
    namespace_prefix: str = "pr"
    max_transitions: int = 32

    def backoff(self, attempt: int) -> timedelta:
        """Delay before attempt `attempt + 1`: exponential, capped."""
        delay: timedelta = self.backoff_base * (2 ** max(attempt - 1, 0))
        return min(delay, self.backoff_max)

    def timeout(self, step: Step) -> timedelta:
        for candidate, limit in self.step_timeouts:
            if candidate is step:
                return limit
        return timedelta(minutes=10)
