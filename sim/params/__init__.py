"""Simulation parameters: frozen dataclasses, loaded from YAML with dotted-key overrides.

`default.yaml` next to this module names every parameter with its source.
`load_params` merges a user file and dotted overrides (for example
`{"pool.size": 12}`) onto the defaults and rejects unknown keys, so a typo in
a sweep fails loudly. This module reads files; it never simulates or decides.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("default.yaml")


class ParamsError(ValueError):
    """A parameter file or override names an unknown key or a bad value."""


@dataclass(frozen=True, slots=True)
class Dist:
    """A latency distribution in seconds: lognormal (scale = median), exponential, constant."""

    kind: str = "constant"
    scale: float = 0.0
    sigma: float = 0.0


@dataclass(frozen=True, slots=True)
class Outage:
    """The controller is down (no reconcile) from `start_h` for `duration_s`."""

    start_h: float = 0.0
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CrashLoop:
    """Between `start_h` and `end_h` the controller runs `up_s`, then is down `down_s`."""

    start_h: float = 0.0
    end_h: float = 0.0
    up_s: float = 60.0
    down_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RunParams:
    days: float
    start: str
    blueprint: str
    sla_s: float
    sample_every_s: float
    orphan_grace_s: float


@dataclass(frozen=True, slots=True)
class WorkloadParams:
    engineers: int
    teams: int
    team_size_sigma: float
    activity_sigma: float
    prs_per_engineer_day: float
    profile: str
    constant_rate_per_hour: float
    utc_offset_hours: int
    workday_start_h: int
    workday_end_h: int
    peak_h: int
    peak_factor: float
    peak_spread_h: float
    off_hours_ratio: float
    weekday_weights: tuple[float, ...]
    monday_burst_factor: float
    monday_burst_start_h: int
    monday_burst_end_h: int
    release_cut_factor: float
    release_cut_weekday: int
    release_cut_hour: int
    release_cut_lead_h: int
    release_cut_every_weeks: int
    merge_fraction: float
    lifetime_merged: Dist
    closed_lifetime_factor: float
    lifetime_max_h: float
    pushes_mean: float
    draft_fraction: float
    draft_ready_fraction: float
    reopen_rate: float
    reopen_after: Dist
    extra_services_mean: float
    migration_fraction: float
    hotfix_fraction: float
    exclude_shared_services: bool


@dataclass(frozen=True, slots=True)
class ClusterParams:
    nodes: int
    envs_per_node: int
    claim: Dist
    clone: Dist
    warm: Dist
    migrations: Dist
    masking_rows: Dist
    masking_rows_per_s: float
    pod_start: Dist
    image_pull: Dist
    uncached_image_fraction: float
    routes: Dist
    teardown: Dist
    api_qps: float
    api_burst: int
    golden_refresh_hour: int | None
    extra_golden_refresh_h: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FaultParams:
    clone_failure_rate: float
    migrations_failure_rate: float
    masking_failure_rate: float
    deploy_failure_rate: float
    hang_rate: float
    slow_snapshot_rate: float
    slow_snapshot_factor: float
    controller_down: tuple[Outage, ...]
    crash_loop: CrashLoop | None


@dataclass(frozen=True, slots=True)
class PoolParams:
    size: int | None
    max_warming: int | None


@dataclass(frozen=True, slots=True)
class AdmissionParams:
    max_concurrent_provisions: int | None
    team_quota: int | None


@dataclass(frozen=True, slots=True)
class CostParams:
    per_node_hour: float


@dataclass(frozen=True, slots=True)
class SimParams:
    """Every knob of one simulation run."""

    run: RunParams
    workload: WorkloadParams
    cluster: ClusterParams
    faults: FaultParams
    pool: PoolParams
    admission: AdmissionParams
    cost: CostParams


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Turn a YAML value into the annotated type `tp`, or raise ParamsError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(tp)[0]
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        if tp is int and float(value) != int(value):
            raise ParamsError(f"{where}: expected a whole number, got {value!r}")
        return tp(value)
    if tp is str:
        return str(value)
    raise ParamsError(f"{where}: unsupported parameter type {tp!r}")  # pragma: no cover


def _build(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ParamsError(f"{where}: unknown parameter(s) {unknown}; expected {sorted(names)}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name], path)
        elif f.default is dataclasses.MISSING:
            raise ParamsError(f"{path}: missing parameter")
    return cls(**kwargs)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise ParamsError(f"override {dotted!r}: {part!r} is not a parameter section")
        node = child
    if parts[-1] not in node:
        raise ParamsError(f"override {dotted!r}: unknown parameter {parts[-1]!r}")
    node[parts[-1]] = value


def read_tree(path: Path) -> dict[str, Any]:
    """The raw mapping of a parameter file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter sections")
    return data


def load_params(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> SimParams:
    """Defaults, then the file at `path` (partial is fine), then dotted `overrides`."""
    tree = read_tree(DEFAULT_PATH)
    if path is not None:
        _merge(tree, read_tree(path))
    for dotted, value in sorted((overrides or {}).items()):
        _set_dotted(tree, dotted, value)
    params: SimParams = _build(SimParams, tree, "")
    return params


def with_overrides(params: SimParams, overrides: Mapping[str, Any]) -> SimParams:
    """A copy of `params` with dotted overrides applied (validated like `load_params`)."""
    tree = dataclasses.asdict(params)
    for dotted, value in sorted(overrides.items()):
        _set_dotted(tree, dotted, value)
    result: SimParams = _build(SimParams, tree, "")
    return result
