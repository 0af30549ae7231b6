"""M/M/c validation support: the Erlang C formula and the parameters that make the model M/M/c.

With the warm pool off, Poisson arrivals, an exponential deploy step, every
other latency zero, no quotas and a global cap of c concurrent provisions,
the core's admission queue is an M/M/c queue. This module only builds those
parameters and computes the theory; it runs nothing.
"""

from __future__ import annotations

import math
from typing import Any

from sim.params import SimParams, load_params

ZERO = {"kind": "constant", "scale": 0.0, "sigma": 0.0}


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (same time unit as 1/lam and 1/mu)."""
    a = lam / mu
    rho = a / c
    if rho >= 1:
        raise ValueError(f"unstable queue: rho = {rho:.3f} >= 1")
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    prob_wait = tail / (head + tail)
    return prob_wait / (c * mu - lam)


def mmc_params(
    *, lam_per_hour: float, mean_service_s: float, c: int, days: float, lifetime_s: float
) -> SimParams:
    """Parameters under which the simulation is an M/M/c queue."""
    overrides: dict[str, Any] = {
        "run.days": days,
        "run.blueprint": "sim/params/mmc-blueprint.yaml",  # one service, no database
        "workload.profile": "constant",
        "workload.constant_rate_per_hour": lam_per_hour,
        "workload.lifetime_merged": {"kind": "constant", "scale": lifetime_s, "sigma": 0.0},
        "workload.merge_fraction": 1.0,
        "workload.pushes_mean": 0.0,
        "workload.draft_fraction": 0.0,
        "workload.reopen_rate": 0.0,
        "workload.migration_fraction": 0.0,
        "workload.hotfix_fraction": 0.0,
        "cluster.nodes": 100000,
        "cluster.claim": ZERO,
        "cluster.clone": ZERO,
        "cluster.warm": ZERO,
        "cluster.migrations": ZERO,
        "cluster.routes": ZERO,
        "cluster.teardown": ZERO,
        "cluster.pod_start": {"kind": "exponential", "scale": mean_service_s, "sigma": 0.0},
        "cluster.uncached_image_fraction": 0.0,
        "cluster.api_qps": 1e9,
        "cluster.api_burst": 1000000000,
        "cluster.golden_refresh_hour": None,
        "pool.size": 0,
        "admission.max_concurrent_provisions": c,
        "admission.team_quota": 10000,
        "run.sample_every_s": 86400.0,
    }
    return load_params(overrides=overrides)
