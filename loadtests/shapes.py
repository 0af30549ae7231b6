"""Locust load shapes: a steady working hour, a Monday-morning burst, a release cut, a sim replay.

Each shape scales a profile of `profiles` (fraction of the peak over the
run's progress) to the run's `users` and `duration`. `SimReplay` follows the
simulation's arrival profile compressed `compress` times: a real second
stands for `compress` simulated seconds, and the user count is chosen so
deliveries per second match the compressed arrival rate (capped by `users`).
Importing this module imports Locust (and its gevent patching).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import cached_property

from locust import LoadTestShape

from loadtests import profiles
from loadtests.settings import RunSettings, from_env


class ProfileShape(LoadTestShape):
    """Users = peak users x `profile(progress)`; stops after `duration`."""

    abstract = True
    profile: Callable[[float], float] = staticmethod(profiles.flat)

    @cached_property
    def settings(self) -> RunSettings:
        return from_env()

    def tick(self) -> tuple[int, float] | None:
        s = self.settings
        t = time.perf_counter() - self.start_time
        if t >= s.duration:
            return None
        fraction = min(1.0, max(0.0, self.profile(t / s.duration)))
        return max(1, math.ceil(s.users * fraction)), s.spawn_rate


class SteadyHour(ProfileShape):
    profile = staticmethod(profiles.steady_hour)


class MondayMorning(ProfileShape):
    profile = staticmethod(profiles.monday_morning)


class ReleaseCut(ProfileShape):
    profile = staticmethod(profiles.release_cut)


class Burst(ProfileShape):
    profile = staticmethod(profiles.flat)


class SimReplay(LoadTestShape):
    """The simulation's arrival profile from `replay_start_h`, compressed `compress` times."""

    abstract = False

    @cached_property
    def settings(self) -> RunSettings:
        return from_env()

    def tick(self) -> tuple[int, float] | None:
        s = self.settings
        t = time.perf_counter() - self.start_time
        if t >= s.duration:
            return None
        rate = profiles.replay_rate_per_s(
            t, compress=s.compress, start_h=s.replay_start_h, params_file=s.params_file
        )
        return max(1, min(s.users, math.ceil(rate / s.user_rps))), s.spawn_rate
