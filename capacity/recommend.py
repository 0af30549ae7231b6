"""Recommend the cheapest setting that meets the SLA, and an hour-by-hour warm-pool schedule.

Pure pandas over the tables of a sweep (see `capacity.store` and
`capacity.stats`); no simulation, no printing.

- The setting: among the swept points, the cheapest (mean cost over seeds)
  whose lower confidence bound on SLA attainment (`stats.summarise_points`)
  meets the target. Ties go to the smaller pool, then fewer concurrent
  provisions, then fewer nodes.
- The schedule: with the recommended concurrency cap and node count, for each
  hour of the day, the smallest swept pool size whose attainment over the
  requests made in that hour (pooled over seeds and days) meets the target.
  Per-hour samples are small at night, so the point estimate is used there,
  not a bound; and because a pool needs time to warm, each hour takes the
  larger of its own need and the next `lead_hours` hours' (the pool ramps up
  before the peak, not during it). An hour no swept size brings to the target
  gets the smallest size that reached its best attainment, and is flagged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from capacity.grid import Point
from capacity.stats import POINT_COLUMNS, attainment_by, normalise_points, summarise_points


@dataclass(frozen=True, slots=True)
class HourPlan:
    """Pool size for one hour of the day and the evidence behind it."""

    hour: int
    size: int
    environments: int
    attainment: float | None
    met: bool


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What `recommend` found: a setting (None if no swept point qualifies), a schedule."""

    sla_seconds: float
    target: float
    confidence: float
    setting: dict[str, Any] | None
    best_lower: float
    schedule: tuple[HourPlan, ...]
    best: dict[str, Any] | None = None

    def centre(self) -> Point:
        """The recommended point, or (if none qualifies) the one with the best lower bound."""
        row = self.setting if self.setting is not None else self.best
        if row is None:
            raise ValueError("the sweep has no points")
        return Point(int(row["pool_size"]), row["concurrency"], row["nodes"])

    def pool_snippet(self) -> dict[str, Any]:
        """The Blueprint `pool` block: `{defaultSize, hours: [{hour, size}]}`, changes only."""
        if self.setting is None:
            raise ValueError("no setting meets the target; nothing to write")
        hours: list[dict[str, int]] = []
        for plan in self.schedule:
            if not hours or hours[-1]["size"] != plan.size:
                hours.append({"hour": plan.hour, "size": plan.size})
        return {"pool": {"defaultSize": int(self.setting["pool_size"]), "hours": hours}}

    def pool_yaml(self) -> str:
        """The `pool` block as YAML text, in the flow style of examples/blueprint.yaml."""
        pool = self.pool_snippet()["pool"]
        lines = ["pool:", f"  defaultSize: {pool['defaultSize']}", "  hours:"]
        lines += [f"    - {{hour: {h['hour']}, size: {h['size']}}}" for h in pool["hours"]]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "sla_seconds": self.sla_seconds,
            "target": self.target,
            "confidence": self.confidence,
            "bound": "min(one-sided t bound over seeds, one-sided Wilson bound over environments)",
            "setting": self.setting,
            "best_lower_bound": self.best_lower,
            "best": self.best,
            "schedule": [asdict(p) for p in self.schedule],
            "pool": self.pool_snippet()["pool"] if self.setting is not None else None,
        }


def choose_setting(points: pd.DataFrame, *, target: float) -> pd.Series | None:
    """The cheapest row of a `summarise_points` table whose `attainment_lower` meets `target`."""
    ok = points[points["attainment_lower"] >= target]
    if ok.empty:
        return None
    ranked = ok.sort_values(["cost_usd", *POINT_COLUMNS], kind="stable")
    return ranked.iloc[0]


def hourly_attainment(envs: pd.DataFrame, *, sla_seconds: float) -> pd.DataFrame:
    """Per point and hour of day: environments requested, how many met the SLA, the fraction."""
    keys = [*POINT_COLUMNS, "hour_of_day"]
    return attainment_by(normalise_points(envs), keys, sla_seconds=sla_seconds)


def _same_knobs(frame: pd.DataFrame, setting: pd.Series) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column in ("concurrency", "nodes"):
        value = setting[column]
        mask &= frame[column].isna() if pd.isna(value) else frame[column].eq(value)
    return mask


def hourly_schedule(
    envs: pd.DataFrame,
    setting: pd.Series,
    *,
    sla_seconds: float,
    target: float,
    lead_hours: int = 1,
) -> tuple[HourPlan, ...]:
    """Smallest pool size per hour meeting `target`, pre-warmed `lead_hours` ahead."""
    envs = normalise_points(envs)
    table = hourly_attainment(envs[_same_knobs(envs, setting)], sla_seconds=sla_seconds)
    sizes = sorted(int(s) for s in table["pool_size"].unique())
    need: list[tuple[int, int, float | None, bool]] = []
    for hour in range(24):
        rows = table[table["hour_of_day"] == hour].sort_values("pool_size")
        if rows.empty or int(rows["environments"].max()) == 0:
            need.append((sizes[0], 0, None, True))
            continue
        good = rows[rows["attainment"] >= target]
        # Unreachable in the grid: the smallest size reaching the best attainment seen
        # (more pool than that did not help this hour; the pool is not the bottleneck).
        best = rows[rows["attainment"] >= rows["attainment"].max()]
        row = good.iloc[0] if not good.empty else best.iloc[0]
        need.append(
            (
                int(row["pool_size"]),
                int(row["environments"]),
                float(row["attainment"]),
                not good.empty,
            )
        )
    plans = []
    for hour in range(24):
        ahead = [need[(hour + k) % 24][0] for k in range(lead_hours + 1)]
        _, n, attainment, met = need[hour]
        plans.append(
            HourPlan(hour=hour, size=max(ahead), environments=n, attainment=attainment, met=met)
        )
    return tuple(plans)


def recommend(
    runs: pd.DataFrame,
    envs: pd.DataFrame,
    *,
    sla_seconds: float = 90.0,
    target: float = 0.95,
    confidence: float = 0.95,
    lead_hours: int = 1,
) -> Recommendation:
    """The cheapest qualifying setting and its hourly schedule (empty if none qualifies)."""
    points = summarise_points(runs, envs, sla_seconds=sla_seconds, confidence=confidence)
    chosen = choose_setting(points, target=target)
    best_row = points.sort_values(["attainment_lower", "cost_usd"], ascending=[False, True]).iloc[0]
    best = _as_dict(best_row)
    best_lower = float(best_row["attainment_lower"])
    if chosen is None:
        return Recommendation(sla_seconds, target, confidence, None, best_lower, (), best)
    schedule = hourly_schedule(
        envs, chosen, sla_seconds=sla_seconds, target=target, lead_hours=lead_hours
    )
    return Recommendation(
        sla_seconds, target, confidence, _as_dict(chosen), best_lower, schedule, best
    )


def _as_dict(row: pd.Series) -> dict[str, Any]:
    """A `summarise_points` row as plain JSON-able values (None for a default knob)."""
    return {
        k: (
            None
            if pd.isna(v)
            else (int(v) if k in POINT_COLUMNS or k in ("seeds", "environments") else float(v))
        )
        for k, v in row.items()
        if k != "pareto"
    }
