"""Sampling of the named latency distributions from a seeded generator.

Pure helpers: the caller passes the `random.Random` it owns, so runs are
deterministic for a seed. No simulation state, no decisions.
"""

from __future__ import annotations

import math
import random

from sim.params import Dist


def sample(dist: Dist, rng: random.Random) -> float:
    """One draw in seconds (never negative)."""
    if dist.kind == "constant" or dist.scale <= 0:
        return max(dist.scale, 0.0)
    if dist.kind == "exponential":
        return rng.expovariate(1.0 / dist.scale)
    if dist.kind == "lognormal":
        return dist.scale * math.exp(rng.gauss(0.0, dist.sigma)) if dist.sigma else dist.scale
    raise ValueError(
        f"unknown distribution kind {dist.kind!r}; use lognormal, exponential or constant"
    )


def mean(dist: Dist) -> float:
    """The distribution's mean (for documentation and validation)."""
    if dist.kind == "lognormal":
        return dist.scale * math.exp(dist.sigma**2 / 2)
    return dist.scale
