"""The capacity report: every figure of a sweep in one self-contained HTML page.

Assembles tables (`capacity.stats`, `capacity.recommend`) and figures
(`capacity.plots`) and embeds the figures as base64 PNG, so the page can be
mailed or attached to a ticket. Runs no simulation: the sensitivity table is
passed in (see `capacity.sensitivity`).
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from capacity import plots
from capacity.recommend import Recommendation, recommend
from capacity.stats import pareto_front, summarise_points
from capacity.store import Scenario


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the report shows, computed once from a sweep's tables."""

    points: pd.DataFrame
    recommendation: Recommendation
    figures: dict[str, Figure]


def analyse(
    runs: pd.DataFrame,
    envs: pd.DataFrame,
    *,
    sla_seconds: float = 90.0,
    target: float = 0.95,
    sensitivity: tuple[pd.DataFrame, float] | None = None,
) -> Analysis:
    """Per-point table, recommendation and the report's figures (titles as keys)."""
    points = summarise_points(runs, envs, sla_seconds=sla_seconds)
    points["pareto"] = pareto_front(points)
    rec = recommend(runs, envs, sla_seconds=sla_seconds, target=target)
    chosen = rec.setting
    figures: dict[str, Figure] = {
        "SLA attainment vs warm-pool size": plots.attainment_vs_pool(
            points, target=target, sla_seconds=sla_seconds
        ),
        "Cost vs SLA attainment": plots.cost_vs_attainment(
            points, points["pareto"], target=target, chosen=chosen
        ),
    }
    knobs = envs
    if chosen is not None:
        for column in ("concurrency", "nodes"):
            value = chosen[column]
            knobs = knobs[knobs[column].isna() if value is None else knobs[column].eq(value)]
    figures["Spin-up time CDF per warm-pool size"] = plots.spinup_cdfs(
        knobs, sla_seconds=sla_seconds
    )
    if chosen is not None:
        figures["Recommended warm-pool size by hour"] = plots.pool_by_hour(
            rec.schedule, constant=int(chosen["pool_size"])
        )
    if sensitivity is not None:
        effects, baseline = sensitivity
        figures["Sensitivity of p95 spin-up"] = plots.tornado(effects, baseline=baseline)
    return Analysis(points=points, recommendation=rec, figures=figures)


def _img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(plots.png_bytes(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


_CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right}img{max-width:100%}pre{background:#f6f6f6;padding:.6em}.miss{color:#b00}"""


def render_html(
    analysis: Analysis, *, scenario: Scenario, title: str = "Mayfly capacity report"
) -> str:
    """The whole page as a string (no external resources)."""
    rec = analysis.recommendation
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>Scenario: {scenario.days:g} simulated days; overrides "
        f"<code>{html.escape(json.dumps(dict(scenario.overrides), sort_keys=True))}</code>"
        f"{'; custom params file' if scenario.params_text else ''}.</p>",
    ]
    if rec.setting is None:
        parts.append(
            f"<p class='miss'><b>No swept setting meets {100 * rec.target:.0f} % within "
            f"{rec.sla_seconds:g} s</b> at the lower bound (best: "
            f"{100 * rec.best_lower:.1f} %). Sweep larger pools, caps or node counts.</p>"
        )
    else:
        s = rec.setting
        parts.append(
            f"<h2>Recommendation</h2><p>Cheapest setting whose lower confidence bound on SLA "
            f"attainment (environments ready within {rec.sla_seconds:g} s) meets "
            f"{100 * rec.target:.0f} %: <b>pool {s['pool_size']}</b>, concurrency "
            f"{s['concurrency'] or 'default'}, nodes {s['nodes'] or 'default'}; attainment "
            f"{100 * s['attainment']:.1f} % (lower bound {100 * s['attainment_lower']:.1f} %), "
            f"cost ${s['cost_usd']:.0f} per simulated period.</p>"
            f"<p>Lower bound: the smaller of a one-sided {100 * rec.confidence:.0f} % Student-t "
            "bound over seeds (seeds are the independent replications; environments of one run "
            "are correlated by queueing) and a Wilson score bound over all environments.</p>"
            "<p>Blueprint snippet (hourly schedule, pre-warmed one hour ahead):</p><pre>"
            + html.escape(rec.pool_yaml())
            + "</pre>"
        )
    for name, fig in analysis.figures.items():
        parts.append(f"<h2>{html.escape(name)}</h2>{_img(fig, name)}")
    cols = [
        "pool_size",
        "concurrency",
        "nodes",
        "seeds",
        "environments",
        "attainment",
        "attainment_lower",
        "cost_usd",
        "spinup_p95_s",
        "queue_wait_p95_s",
        "pareto",
    ]
    table = analysis.points[cols].to_html(
        index=False, float_format=lambda v: f"{v:.3f}", na_rep="default"
    )
    parts.append(f"<h2>Every setting (mean over seeds)</h2>{table}</body></html>")
    return "\n".join(parts)


def write_report(analysis: Analysis, out: Path, *, scenario: Scenario) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(analysis, scenario=scenario), encoding="utf-8")


def write_figures(analysis: Analysis, directory: Path) -> list[Path]:
    """Each figure as `<slug>.png` (e.g. sla-attainment-vs-warm-pool-size.png); the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in analysis.figures.items():
        slug = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
        path = directory / f"{slug}.png"
        path.write_bytes(plots.png_bytes(fig))
        paths.append(path)
    return paths
