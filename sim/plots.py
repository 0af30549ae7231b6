"""Figures of a run as PNG files (matplotlib, Agg backend): spin-up CDF, concurrency, queue.

Reads result records only; never runs a simulation. Import it only where
figures are wanted (matplotlib is slow to import).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def spinup_cdf(environments: list[dict[str, Any]], path: Path, *, sla_s: float) -> Path:
    """Empirical CDF of spin-up times with the SLA line."""
    values = sorted(e["spinup_s"] for e in environments if e["spinup_s"] is not None)
    fig, ax = plt.subplots(figsize=(7, 4))
    if values:
        ys = [(i + 1) / len(values) for i in range(len(values))]
        ax.step(values, ys, where="post", label=f"{len(values)} environments")
        ax.set_xscale("log")
    ax.axvline(sla_s, color="red", linestyle="--", label=f"SLA {sla_s:g} s")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("spin-up time (s, log scale)")
    ax.set_ylabel("fraction of environments ready")
    ax.set_title("Spin-up time CDF")
    ax.legend(loc="lower right")
    return _save(fig, path)


def _series(timeseries: list[dict[str, Any]], column: str, path: Path, title: str) -> Path:
    hours = [row["t_s"] / 3600.0 for row in timeseries]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(hours, [row[column] for row in timeseries], linewidth=0.9)
    ax.set_xlabel("simulated hours since Monday 00:00")
    ax.set_ylabel(column.replace("_", " "))
    ax.set_title(title)
    for day in range(0, int(max(hours, default=0)) + 1, 24):
        ax.axvline(day, color="grey", linewidth=0.4)
    return _save(fig, path)


def write_figures(
    environments: list[dict[str, Any]],
    timeseries: list[dict[str, Any]],
    out: Path,
    *,
    sla_s: float,
) -> list[Path]:
    """All figures of a run into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        spinup_cdf(environments, out / "spinup_cdf.png", sla_s=sla_s),
        _series(timeseries, "concurrent_envs", out / "concurrent_envs.png", "Live environments"),
        _series(timeseries, "queue_depth", out / "queue_depth.png", "Admission queue depth"),
    ]
