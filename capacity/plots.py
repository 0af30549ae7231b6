"""Figures of a capacity sweep, as matplotlib `Figure`s (Agg, no pyplot, no global state).

Draws only: every number comes in as a pandas table built elsewhere
(`capacity.stats`, `capacity.recommend`, `capacity.sensitivity`). `png_bytes`
renders a figure for the HTML report or a file.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from capacity.recommend import HourPlan

_SIZE = (7.0, 4.2)
_DPI = 110


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg canvas)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _knob_label(concurrency: object, nodes: object) -> str:
    parts = []
    if not pd.isna(concurrency):
        parts.append(f"{int(concurrency)} concurrent")  # type: ignore[call-overload]
    if not pd.isna(nodes):
        parts.append(f"{int(nodes)} nodes")  # type: ignore[call-overload]
    return ", ".join(parts) or "default cluster"


def attainment_vs_pool(points: pd.DataFrame, *, target: float, sla_seconds: float) -> Figure:
    """SLA attainment against warm-pool size, one line per (concurrency, nodes), with bands."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    groups = points.groupby(["concurrency", "nodes"], dropna=False, sort=True)
    markers, widths = "osD^v<>p*h", (2.8, 1.4)
    for k, ((conc, nodes), group) in enumerate(groups):
        g = group.sort_values("pool_size")
        (line,) = ax.plot(  # alternate widths and markers so identical curves stay visible
            g["pool_size"],
            100 * g["attainment"],
            marker=markers[k % len(markers)],
            ms=4,
            lw=widths[k % 2],
            label=_knob_label(conc, nodes),
        )
        ax.fill_between(
            g["pool_size"],
            100 * g["attainment_t_lower"],
            100 * g["attainment_t_upper"].clip(upper=1.0),
            alpha=0.18,
            color=line.get_color(),
            lw=0,
        )
        ax.plot(g["pool_size"], 100 * g["attainment_lower"], ls=":", lw=1, color=line.get_color())
    ax.axhline(100 * target, color="crimson", ls="--", lw=1, label=f"target {100 * target:.0f} %")
    ax.set_xlabel("warm-pool size (slots)")
    ax.set_ylabel(f"environments ready ≤ {sla_seconds:.0f} s (%)")
    ax.set_title(
        "SLA attainment vs warm-pool size (mean over seeds; band: 90 % t-interval; "
        "dotted: lower bound used)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def cost_vs_attainment(
    points: pd.DataFrame, pareto: pd.Series, *, target: float, chosen: dict[str, Any] | None
) -> Figure:
    """Cost per simulated period against attainment; the Pareto front joined and ringed."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    sc = ax.scatter(
        100 * points["attainment"],
        points["cost_usd"],
        c=points["pool_size"],
        cmap="viridis",
        s=28,
        zorder=3,
    )
    fig.colorbar(sc, ax=ax, label="warm-pool size")
    front = points[pareto].sort_values("attainment")
    ax.plot(
        100 * front["attainment"],
        front["cost_usd"],
        color="black",
        lw=1.2,
        zorder=2,
        label="Pareto front",
    )
    ax.scatter(
        100 * front["attainment"],
        front["cost_usd"],
        facecolors="none",
        edgecolors="black",
        s=80,
        zorder=4,
    )
    if chosen is not None:
        ax.scatter(
            [100 * float(chosen["attainment"])],
            [float(chosen["cost_usd"])],
            marker="*",
            s=260,
            color="crimson",
            zorder=5,
            label="recommended",
        )
    ax.axvline(100 * target, color="crimson", ls="--", lw=1)
    if points["cost_usd"].nunique() == 1:
        ax.text(
            0.02,
            0.04,
            "one cost for every setting: in the simulation cost is node-hours;\n"
            "sweep --nodes to trade cost against attainment",
            transform=ax.transAxes,
            fontsize=8,
            color="dimgray",
        )
    ax.set_xlabel("SLA attainment (%)")
    ax.set_ylabel("cost over the simulated period (USD)")
    ax.set_title("Cost vs SLA attainment (each dot one setting, mean over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def spinup_cdfs(
    envs: pd.DataFrame, *, sla_seconds: float, label_column: str = "pool_size"
) -> Figure:
    """Empirical CDF of spin-up time per setting (one curve per `label_column` value)."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    values = sorted(envs[label_column].dropna().unique())
    colours = [_cmap_colour(i, len(values)) for i in range(len(values))]
    for colour, value in zip(colours, values, strict=True):
        s = np.sort(envs.loc[envs[label_column] == value, "spinup_s"].to_numpy(dtype=float))
        s = s[~np.isnan(s)]
        if s.size == 0:
            continue
        ax.step(
            s,
            100 * np.arange(1, s.size + 1) / s.size,
            where="post",
            color=colour,
            lw=1.2,
            label=f"{label_column.replace('_', ' ')} {value:g}",
        )
    ax.axvline(sla_seconds, color="crimson", ls="--", lw=1.2, label=f"{sla_seconds:.0f} s SLA")
    ax.set_xscale("log")
    ax.set_xlabel("spin-up time (s, log scale)")
    ax.set_ylabel("environments ready (%)")
    ax.set_title("Spin-up time CDF per warm-pool size", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    return fig


def _cmap_colour(i: int, n: int) -> tuple[float, float, float, float]:
    rgba = colormaps["viridis"](i / max(n - 1, 1) * 0.9)
    return (float(rgba[0]), float(rgba[1]), float(rgba[2]), float(rgba[3]))


def pool_by_hour(schedule: tuple[HourPlan, ...], *, constant: int | None) -> Figure:
    """Recommended pool size per hour of day (steps) over the demand in each hour (bars)."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    hours = [p.hour for p in schedule]
    demand = ax.twinx()
    demand.bar(
        hours,
        [p.environments for p in schedule],
        color="lightsteelblue",
        alpha=0.6,
        width=0.8,
        label="environments requested",
    )
    demand.set_ylabel("environments requested in the hour (all seeds)")
    ax.set_zorder(demand.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.step(
        [*hours, 24],
        [p.size for p in schedule] + [schedule[-1].size],
        where="post",
        color="crimson",
        lw=2,
        label="recommended pool size",
    )
    missed = [p for p in schedule if not p.met]
    if missed:
        ax.scatter(
            [p.hour + 0.5 for p in missed],
            [p.size for p in missed],
            marker="x",
            color="black",
            zorder=5,
            label="target not reached in the grid",
        )
    if constant is not None:
        ax.axhline(constant, color="grey", ls=":", label=f"constant pool ({constant})")
    top = max([p.size for p in schedule] + [constant or 0])
    ax.set_ylim(-0.05 * max(top, 1), 1.3 * max(top, 1))
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel("hour of day")
    ax.set_ylabel("warm-pool size (slots)")
    ax.set_title("Recommended warm-pool size by hour of day", fontsize=9)
    ax.grid(alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    bars, bar_labels = demand.get_legend_handles_labels()
    ax.legend(lines + bars, labels + bar_labels, fontsize=8, loc="upper left")
    return fig


def tornado(effects: pd.DataFrame, *, baseline: float) -> Figure:
    """One-at-a-time sensitivity: change of p95 spin-up for each parameter at -delta and +delta.

    `effects` has columns parameter, low, high (p95 spin-up at the perturbed
    settings) and optionally delta; drawn with the largest swing on top.
    """
    fig = Figure(figsize=(_SIZE[0], 0.45 * len(effects) + 1.4))
    ax = fig.add_subplot()
    order = effects.assign(swing=(effects["high"] - effects["low"]).abs()).sort_values("swing")
    delta = f"{100 * float(effects['delta'].iloc[0]):.0f} %" if "delta" in effects else "δ"
    y = np.arange(len(order))
    ax.barh(
        y - 0.2,
        order["low"] - baseline,
        height=0.4,
        color="steelblue",
        label=f"parameter − {delta}",
    )
    ax.barh(
        y + 0.2,
        order["high"] - baseline,
        height=0.4,
        color="darkorange",
        label=f"parameter + {delta}",
    )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, order["parameter"], fontsize=8)
    ax.set_xlabel(f"change in p95 spin-up (s) from {baseline:.1f} s at the recommended setting")
    ax.set_title("What moves p95 spin-up most (one-at-a-time sensitivity)", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    return fig
