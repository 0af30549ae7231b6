"""Load profiles as plain functions: fraction of peak users over a run, and the sim replay rate.

Kept apart from `shapes` (which subclasses Locust's `LoadTestShape`)
because importing Locust monkey-patches the whole process with gevent; the
profiles are tested and reused without it. `replay_rate_per_s` follows the
simulation's own arrival profile (`sim.workload.arrival_rate`, imported,
not copied), compressed in time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

# deliveries per pull request opened: opened + ~1.2 pushes + labels + closed (+ redeliveries)
DELIVERIES_PER_PR = 4.0


def steady_hour(progress: float) -> float:
    """A working hour: a short ramp, then a flat plateau at the peak."""
    return min(1.0, 0.2 + progress / 0.1 * 0.8) if progress < 0.1 else 1.0


def monday_morning(progress: float) -> float:
    """Quiet weekend tail, then everyone opens their weekend work at 09:00: a cliff, a slow fade."""
    if progress < 0.15:
        return 0.1
    if progress < 0.5:
        return 1.0
    return max(0.35, 1.0 - (progress - 0.5) * 1.3)


def release_cut(progress: float) -> float:
    """The hours before a release cut: a rising rush of pushes and merges, then the freeze."""
    if progress < 0.7:
        return 0.25 + 0.75 * (progress / 0.7) ** 2
    return 1.0 if progress < 0.85 else 0.1


def flat(progress: float) -> float:
    """Every user at once for the whole run (the burst benchmarks)."""
    return 1.0


@lru_cache(maxsize=8)
def _workload(params_file: str) -> Any:
    from sim.params import load_params  # noqa: PLC0415  (imports the simulation: only when used)

    return load_params(Path(params_file) if params_file else None).workload


def replay_rate_per_s(t: float, *, compress: float, start_h: float, params_file: str = "") -> float:
    """Deliveries per real second at run time `t`, replaying from `start_h` hours after Monday."""
    from sim.workload import arrival_rate  # noqa: PLC0415

    sim_t = start_h * 3600.0 + t * compress
    prs_per_hour = arrival_rate(sim_t, _workload(params_file))
    return prs_per_hour * compress / 3600.0 * DELIVERIES_PER_PR
