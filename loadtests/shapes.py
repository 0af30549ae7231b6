"""Load shapes: a steady working hour, a Monday-morning burst, a release cut, a sim replay.

Each shape scales a profile (fraction of the peak, over the run's progress)
to the run's `users` and `duration`; `SimReplay` instead follows the
simulation's own arrival profile (`sim.workload.arrival_rate`, imported, not
copied) compressed in time by `compress`: a real second stands for
`compress` simulated seconds, and the user count is chosen so deliveries per
second match the compressed arrival rate (capped by `users`).
"""

from __future__ import annotations

import math
import time
from functools import cached_property

from locust import LoadTestShape

from loadtests.settings import RunSettings, from_env

# deliveries per pull request opened: opened + ~1.2 pushes + labels + closed (+ redeliveries)
DELIVERIES_PER_PR = 4.0


class ProfileShape(LoadTestShape):
    """Users = peak users x `fraction(progress)`; stops after `duration`."""

    abstract = True

    @cached_property
    def settings(self) -> RunSettings:
        return from_env()

    def fraction(self, progress: float) -> float:
        raise NotImplementedError

    def tick(self) -> tuple[int, float] | None:
        s = self.settings
        t = time.perf_counter() - self.start_time
        if t >= s.duration:
            return None
        users = max(1, math.ceil(s.users * min(1.0, max(0.0, self.fraction(t / s.duration)))))
        return users, s.spawn_rate


class SteadyHour(ProfileShape):
    """A working hour: a short ramp, then a flat plateau at the peak."""

    def fraction(self, progress: float) -> float:
        return min(1.0, 0.2 + progress / 0.1 * 0.8) if progress < 0.1 else 1.0


class MondayMorning(ProfileShape):
    """Quiet weekend tail, then everyone opens their weekend work at 09:00: a cliff, a slow fade."""

    def fraction(self, progress: float) -> float:
        if progress < 0.15:
            return 0.1
        if progress < 0.5:
            return 1.0
        return max(0.35, 1.0 - (progress - 0.5) * 1.3)


class ReleaseCut(ProfileShape):
    """The hours before a release cut: a rising rush of pushes and merges, then the cut."""

    def fraction(self, progress: float) -> float:
        if progress < 0.8:
            return 0.25 + 0.75 * (progress / 0.8) ** 2
        return 0.1  # the cut: the branch is frozen


class Burst(ProfileShape):
    """Every user at once for the whole run (the burst benchmarks)."""

    def fraction(self, progress: float) -> float:
        return 1.0


class SimReplay(LoadTestShape):
    """The simulation's arrival profile from `replay_start_h`, compressed `compress` times."""

    abstract = False

    @cached_property
    def settings(self) -> RunSettings:
        return from_env()

    @cached_property
    def workload(self) -> object:
        from pathlib import Path  # noqa: PLC0415

        from sim.params import load_params  # noqa: PLC0415  (imports SimPy: only when used)

        path = Path(self.settings.params_file) if self.settings.params_file else None
        return load_params(path).workload

    def rate_per_s(self, t: float) -> float:
        """Deliveries per real second at run time `t`."""
        from sim.workload import arrival_rate  # noqa: PLC0415

        s = self.settings
        sim_t = s.replay_start_h * 3600.0 + t * s.compress
        prs_per_hour = arrival_rate(sim_t, self.workload)  # type: ignore[arg-type]
        return prs_per_hour * s.compress / 3600.0 * DELIVERIES_PER_PR

    def tick(self) -> tuple[int, float] | None:
        s = self.settings
        t = time.perf_counter() - self.start_time
        if t >= s.duration:
            return None
        users = math.ceil(self.rate_per_s(t) / s.user_rps)
        return max(1, min(s.users, users)), s.spawn_rate
