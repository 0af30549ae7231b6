"""Confidence bounds on SLA attainment and per-point aggregation of a sweep table.

Which bound, and why. Each seed is an independent replication of the whole
simulated week, but the environments inside one run are not independent of
each other: a Monday-morning burst makes many of them late together. The
honest unit of replication is therefore the seed, and the primary bound is a
one-sided Student-t lower bound on the mean attainment over seeds (the method
of independent replications). With very few seeds, or when every seed scores
exactly the same (typically 100 %), the t bound degenerates to the point
estimate; so the bound we use is the smaller of it and a one-sided Wilson
score lower bound on the pooled environments, which never claims certainty
from a finite number of requests.

Pure: pandas and the standard library only (no scipy: the t quantile comes
from a continued-fraction incomplete beta and bisection, checked in tests).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pandas as pd

POINT_COLUMNS = ("pool_size", "concurrency", "nodes")


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Cumulative distribution function of Student's t with `df` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Inverse of `t_cdf` by bisection (60 halvings: far below any printed digit)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    lo, hi = -1e4, 1e4
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def t_bounds(values: list[float], *, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper): one-sided `confidence` bounds on the mean over replications."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(confidence, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def wilson_lower(successes: int, n: int, *, confidence: float = 0.95) -> float:
    """One-sided Wilson score lower bound on a binomial proportion (0 when n == 0)."""
    if n <= 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


def normalise_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Point columns with fixed dtypes (pool int; concurrency and nodes float, NaN = default)."""
    out = frame.copy()
    out["pool_size"] = out["pool_size"].astype("int64")
    for column in ("concurrency", "nodes"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def sla_outcomes(envs: pd.DataFrame, *, sla_seconds: float) -> pd.DataFrame:
    """Columns `eligible` and `met`, by the simulation's own rule (sim/summary.py).

    Met: ready within the SLA (spin-up <= SLA). Eligible: ready at all, or else
    still wanted when the SLA ran out (not closed within it) and requested at
    least one SLA before the end of the run (`horizon_s`). An environment that
    was wanted but never became ready counts as a miss.
    """
    spinup = envs["spinup_s"]
    ready = spinup.notna()
    wanted = envs["closed_at_s"].isna() | (
        envs["closed_at_s"] - envs["requested_at_s"] > sla_seconds
    )
    in_time = envs["requested_at_s"] + sla_seconds <= envs["horizon_s"]
    eligible = ready | (wanted & in_time)
    return envs.assign(eligible=eligible, met=ready & spinup.le(sla_seconds))


def attainment_by(envs: pd.DataFrame, keys: list[str], *, sla_seconds: float) -> pd.DataFrame:
    """Per group: eligible environments, how many met the SLA, and the fraction (NaN if none)."""
    outcomes = sla_outcomes(envs, sla_seconds=sla_seconds)
    grouped = outcomes.groupby(keys, dropna=False)[["eligible", "met"]].sum()
    out = grouped.rename(columns={"eligible": "environments"}).reset_index()
    out["environments"] = out["environments"].astype("int64")
    out["met"] = out["met"].astype("int64")
    out["attainment"] = out["met"] / out["environments"].where(out["environments"] > 0)
    return out


def attainment_by_run(envs: pd.DataFrame, *, sla_seconds: float) -> pd.DataFrame:
    """Per (point, seed): eligible environments, how many met the SLA, the fraction."""
    return attainment_by(envs, [*POINT_COLUMNS, "seed"], sla_seconds=sla_seconds)


def summarise_points(
    runs: pd.DataFrame, envs: pd.DataFrame, *, sla_seconds: float, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per point: attainment mean and bounds, cost and spin-up means over seeds.

    `runs` is the tidy sweep table (one row per point and seed, with the sim's
    summary columns); `envs` the environment records of the same runs.
    """
    att = attainment_by_run(normalise_points(envs), sla_seconds=sla_seconds)
    keys = list(POINT_COLUMNS)
    merged = normalise_points(runs).drop(columns=["environments"], errors="ignore")
    merged = merged.merge(
        att[[*keys, "seed", "environments", "met", "attainment"]], on=[*keys, "seed"], how="left"
    ).fillna({"environments": 0, "met": 0, "attainment": 0.0})
    rows: list[dict[str, object]] = []
    for point, group in merged.groupby(keys, dropna=False, sort=True):
        values = [float(v) for v in group["attainment"]]
        mean, lower_t, upper_t = t_bounds(values, confidence=confidence)
        n_env = int(group["environments"].sum())
        lower_w = wilson_lower(int(group["met"].sum()), n_env, confidence=confidence)
        rows.append(
            {
                **dict(zip(keys, point, strict=True)),
                "seeds": len(values),
                "environments": n_env,
                "attainment": mean,
                "attainment_t_lower": lower_t,
                "attainment_t_upper": upper_t,
                "attainment_wilson_lower": lower_w,
                "attainment_lower": min(lower_t, lower_w),
                "cost_usd": float(group["cost_usd"].mean()),
                "node_hours": float(group["node_hours"].mean()),
                "spinup_p95_s": float(group["spinup_p95_s"].mean()),
                "queue_wait_p95_s": float(group["queue_wait_p95_s"].mean()),
                "pool_utilisation": float(group["pool_utilisation"].mean()),
            }
        )
    return pd.DataFrame(rows)


def pareto_front(
    points: pd.DataFrame, *, cost: str = "cost_usd", value: str = "attainment"
) -> pd.Series:
    """Boolean mask: rows no other row beats (cheaper or equal cost and higher or equal value)."""
    mask = []
    for _, row in points.iterrows():
        dominated = (
            (points[cost] <= row[cost])
            & (points[value] >= row[value])
            & ((points[cost] < row[cost]) | (points[value] > row[value]))
        ).any()
        mask.append(not dominated)
    return pd.Series(mask, index=points.index, name="pareto")
