"""Capacity planning over the simulation: sweeps, confidence bounds, recommendation, report.

The public names below are what the notebook and other packages import; the
modules are `grid` (knobs and shards), `store` (sweep directories), `runner`
(calls the simulation), `stats` (bounds), `recommend`, `sensitivity`, `plots`
and `report`. Only `runner` (and `sensitivity` through it) runs the simulation.
"""

from capacity.grid import Point, Task, build_points, build_tasks, parse_int_list, shard
from capacity.plots import png_bytes
from capacity.recommend import HourPlan, Recommendation, hourly_attainment, recommend
from capacity.report import Analysis, analyse, render_html, write_report
from capacity.runner import SweepOutcome, run_sweep
from capacity.sensitivity import DEFAULT_PARAMETERS, run_sensitivity
from capacity.stats import pareto_front, summarise_points, t_bounds, wilson_lower
from capacity.store import (
    Scenario,
    consolidate,
    load_sweep,
    merge,
    read_scenario,
    read_sensitivity,
    write_sensitivity,
)

__all__ = [
    "DEFAULT_PARAMETERS",
    "Analysis",
    "HourPlan",
    "Point",
    "Recommendation",
    "Scenario",
    "SweepOutcome",
    "Task",
    "analyse",
    "build_points",
    "build_tasks",
    "consolidate",
    "hourly_attainment",
    "load_sweep",
    "merge",
    "pareto_front",
    "parse_int_list",
    "png_bytes",
    "read_scenario",
    "read_sensitivity",
    "recommend",
    "render_html",
    "run_sensitivity",
    "run_sweep",
    "shard",
    "summarise_points",
    "t_bounds",
    "wilson_lower",
    "write_report",
    "write_sensitivity",
]
