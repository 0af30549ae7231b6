"""Scenario files (`scenarios/*.yaml`): a workload, faults and expectations, independent of SimPy.

A scenario names parameter overrides (nested sections of the simulation
parameters: `workload`, `faults`, `cluster`, `pool`, `admission`, `run`),
a seed, and expectations such as `spinup_p95_s < 90` or `orphans == 0`
checked against a summary mapping. The cluster tests and Locust read the
same files, so this module imports neither SimPy nor the simulation, and
runs nothing.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_EXPECT = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(-?[0-9.eE+-]+)\s*$")
SECTIONS = ("run", "workload", "cluster", "faults", "pool", "admission", "cost")


class ScenarioError(ValueError):
    """A scenario file is malformed: the message says which file and what to fix."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """`metric op value`, checked against a summary."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def check(self, summary: Mapping[str, Any]) -> tuple[bool, Any]:
        """(holds, measured value); a missing or null metric never holds."""
        measured = summary.get(self.metric)
        if not isinstance(measured, int | float):
            return False, measured
        return _OPS[self.op](float(measured), self.value), measured


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario file."""

    name: str
    path: Path
    description: str
    seed: int
    overrides: Mapping[str, Any] = field(default_factory=dict)
    expect: tuple[Expectation, ...] = ()

    def dotted_overrides(self) -> dict[str, Any]:
        """Overrides as dotted keys (`workload.engineers`), one level below the section."""
        out: dict[str, Any] = {}
        for section, values in self.overrides.items():
            for key, value in values.items():
                out[f"{section}.{key}"] = value
        return out


def parse_expectation(text: str, *, where: str) -> Expectation:
    match = _EXPECT.match(text)
    if match is None:
        raise ScenarioError(
            f"{where}: expectation {text!r} is not 'metric op number' (op: <, <=, >, >=, ==, !=)"
        )
    return Expectation(match.group(1), match.group(2), float(match.group(3)))


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping with name, overrides and expect")
    unknown = sorted(set(data) - {"name", "description", "seed", "overrides", "expect"})
    if unknown:
        raise ScenarioError(f"{path}: unknown keys {unknown}")
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(
        s in SECTIONS and isinstance(v, dict) for s, v in overrides.items()
    ):
        raise ScenarioError(f"{path}: overrides must map sections {SECTIONS} to mappings")
    expect = tuple(
        parse_expectation(str(e), where=f"{path}: expect[{i}]")
        for i, e in enumerate(data.get("expect") or ())
    )
    return Scenario(
        name=str(data.get("name") or path.stem),
        path=path,
        description=str(data.get("description", "")).strip(),
        seed=int(data.get("seed", 1)),
        overrides=overrides,
        expect=expect,
    )


def scenario_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))
