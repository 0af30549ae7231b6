"""Validation against queueing theory: with the pool off, the model is an M/M/c queue.

With the pool off, Poisson arrivals, an exponential provisioning step, every
other latency zero and a global cap of c, the simulation is M/M/c (the
blueprint is sim/params/mmc-blueprint.yaml: one service, so a provision is a
deploy step). Checked three ways:

1. direct (`test_simulated_mean_queue_wait_matches_erlang_c`, marked slow):
   the model itself runs with the real core for 30,000-55,000 customers per
   setting, and the mean of the recorded queue waits matches Erlang C within
   5%. The mean wait's relative error falls only like 1/sqrt(n) with strong
   autocorrelation (about 6% standard error at 10,000 customers and rho 0.5),
   so the runs are sized for about 3% (checked by batch means) and take
   60-85 s each (about 1-2 ms CPU per customer with the real core);
2. path-wise, fast: on each simulated run, the admission times the core
   produced are exactly the service-start times of a first-come-first-served
   c-server queue fed with the same arrival times and service durations (any
   work-conserving order gives the same start times, so fair share between
   teams does not matter), and the inputs are Poisson and exponential;
3. long run of that c-server queue, fed with Poisson/exponential inputs for
   300,000 customers: the Erlang C mean wait within 5%.
"""

from __future__ import annotations

import heapq
import math
import random

import pytest

from sim.erlang import erlang_c_wait, mmc_params
from sim.run import simulate

SETTINGS = [
    pytest.param(120.0, 60.0, 3, id="lam120h-mu60s-c3"),
    pytest.param(180.0, 30.0, 2, id="lam180h-mu30s-c2"),
    pytest.param(240.0, 45.0, 4, id="lam240h-mu45s-c4"),
]


def fcfs_starts(arrivals: list[float], services: list[float], c: int) -> list[float]:
    """Service-start times of a FCFS c-server queue; durations are given in start order."""
    free = [0.0] * c
    starts = []
    for k, arrival in enumerate(arrivals):
        start = max(arrival, heapq.heappop(free))
        starts.append(start)
        heapq.heappush(free, start + services[k] if k < len(services) else math.inf)
    return starts


def test_erlang_c_formula_matches_mm1_and_known_value() -> None:
    lam, mu = 0.5, 1.0
    assert erlang_c_wait(lam, mu, 1) == pytest.approx(lam / (mu * (mu - lam)))
    # M/M/2 with a = 1: P(wait) = 1/3, Wq = (1/3) / (2 - 1) = 1/3
    assert erlang_c_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)


@pytest.mark.parametrize(("lam_h", "mean_s", "c"), SETTINGS)
def test_core_admission_queue_is_mmc_pathwise(lam_h: float, mean_s: float, c: int) -> None:
    params = mmc_params(lam_per_hour=lam_h, mean_service_s=mean_s, c=c, days=0.04, lifetime_s=600.0)
    result = simulate(params, seed=7)
    envs = sorted(result.environments, key=lambda e: e["requested_at_s"])
    arrivals = [e["requested_at_s"] for e in envs]
    admitted = sorted(e["admitted_at_s"] for e in envs if e["admitted_at_s"] is not None)
    by_start = sorted(
        (e["admitted_at_s"], e["ready_at_s"]) for e in envs if e["admitted_at_s"] is not None
    )
    services = []  # durations in start order, up to the first service still running at the end
    for start, ready in by_start:
        if ready is None:
            break
        services.append(ready - start)
    admitted = admitted[: len(services)]
    expected = fcfs_starts(arrivals, services, c)[: len(services)]
    assert len(admitted) > 80
    assert sum(1 for a in admitted if a > arrivals[0]) > 0
    assert admitted == pytest.approx(expected, abs=1e-6)
    waits = [e["queue_wait_s"] for e in envs if e["queue_wait_s"] is not None]
    assert sum(w > 0 for w in waits) > 5  # the queue really formed
    # the inputs: Poisson arrivals at lam, exponential services of mean 1/mu
    horizon = params.run.days * 86400
    expected_n = lam_h / 3600 * horizon
    assert abs(len(arrivals) - expected_n) < 4 * math.sqrt(expected_n)
    mean_service = sum(services) / len(services)
    assert abs(mean_service - mean_s) < 4 * mean_s / math.sqrt(len(services))


@pytest.mark.parametrize(("lam_h", "mean_s", "c"), SETTINGS)
def test_mmc_long_run_mean_wait_matches_erlang_c(lam_h: float, mean_s: float, c: int) -> None:
    rng = random.Random(f"erlang-{lam_h}-{mean_s}-{c}")
    lam, n = lam_h / 3600, 300_000
    t, arrivals = 0.0, []
    for _ in range(n):
        t += rng.expovariate(lam)
        arrivals.append(t)
    services = [rng.expovariate(1 / mean_s) for _ in range(n)]
    starts = fcfs_starts(arrivals, services, c)
    warm = n // 20
    mean_wait = sum(s - a for s, a in zip(starts[warm:], arrivals[warm:], strict=True)) / (n - warm)
    theory = erlang_c_wait(lam, 1 / mean_s, c)
    assert mean_wait == pytest.approx(theory, rel=0.05), (mean_wait, theory)


# -- the direct check: the simulation itself, long runs ------------------------------------------
# (lambda per second, mean provisioning seconds, c, customers). Utilisation 0.4-0.5, where
# the mean wait's relative spread is lowest; customer counts sized so that the batch-means
# standard error of the mean wait is about 3%, and at most SE_MAX (checked), so that the 5%
# band is at least 1.5 standard errors wide. Smaller runs would pass or fail by the seed.
DIRECT = [
    pytest.param(0.4, 1.0, 1, 30_000, id="rho0.4-c1"),
    pytest.param(0.25, 2.0, 1, 45_000, id="rho0.5-c1"),
    pytest.param(0.8, 1.0, 2, 55_000, id="rho0.4-c2"),
]
SE_MAX = 0.033
SETTLE_S = 60.0  # customers arriving this close to the end may still be queued: left out
BATCHES = 40


def mean_and_batch_se(values: list[float], batches: int = BATCHES) -> tuple[float, float]:
    """The mean and its standard error from `batches` consecutive batch means."""
    size = len(values) // batches
    means = [sum(values[i * size : (i + 1) * size]) / size for i in range(batches)]
    grand = sum(means) / batches
    var = sum((m - grand) ** 2 for m in means) / (batches - 1)
    return sum(values) / len(values), math.sqrt(var / batches)


@pytest.mark.slow
@pytest.mark.parametrize(("lam", "mean_s", "c", "customers"), DIRECT)
def test_simulated_mean_queue_wait_matches_erlang_c(
    lam: float, mean_s: float, c: int, customers: int
) -> None:
    """Run the model (the real core, pool off, exponential provisioning, all else zero) and
    compare the mean of the recorded queue waits with Erlang C."""
    horizon = customers / lam + SETTLE_S
    params = mmc_params(
        lam_per_hour=lam * 3600, mean_service_s=mean_s, c=c, days=horizon / 86400, lifetime_s=60.0
    )
    result = simulate(params, seed=11)
    envs = sorted(result.environments, key=lambda e: e["requested_at_s"])
    counted = [e for e in envs if e["requested_at_s"] <= horizon - SETTLE_S]
    assert all(e["queue_wait_s"] is not None for e in counted), "a customer never got served"
    waits = [e["queue_wait_s"] for e in counted[len(counted) // 20 :]]  # 5% warm-up dropped
    mean_wait, se = mean_and_batch_se(waits)
    theory = erlang_c_wait(lam, 1 / mean_s, c)
    assert abs(len(counted) - customers) < 4 * math.sqrt(customers)  # Poisson count
    assert se <= SE_MAX * theory, f"run too short for a 5% check: SE {se / theory:.1%}"
    assert mean_wait == pytest.approx(theory, rel=0.05), (mean_wait, theory, se)
