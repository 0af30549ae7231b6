"""Pytest plugin: every `scenarios/*.yaml` file becomes a test item run in the simulation.

Registered from tests/conftest.py (`pytest_plugins`). Collection hooks onto
`tests/scenarios/` (any file there triggers it once) and yields one item per
scenario file; a failed expectation reports the measured value and the
scenario. The plugin only runs scenarios; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.params import load_params
from sim.run import REPO_ROOT, simulate
from sim.scenario_format import Scenario, load_scenario, scenario_files

SCENARIO_DIR = REPO_ROOT / "scenarios"
ANCHOR = "scenarios.txt"  # tests/scenarios/scenarios.txt: where the items appear


class ScenarioExpectationError(Exception):
    """One or more expectations of a scenario did not hold."""


class ScenarioItem(pytest.Item):
    """One scenario file, simulated once, with every expectation checked."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.summary: dict[str, Any] = {}

    def runtest(self) -> None:
        sc = self.scenario
        params = load_params(overrides=sc.dotted_overrides())
        self.summary = simulate(params, seed=sc.seed).summary
        failed = []
        for expectation in sc.expect:
            holds, measured = expectation.check(self.summary)
            if not holds:
                failed.append(f"  expected {expectation}, measured {measured!r}")
        if failed:
            raise ScenarioExpectationError("\n".join(failed))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioExpectationError):
            sc = self.scenario
            return (
                f"scenario {sc.name!r} ({sc.path}) failed:\n{excinfo.value}\n"
                f"  description: {sc.description}\n"
                f"  overrides: {sc.dotted_overrides()} seed={sc.seed}"
            )
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.scenario.path, 0, f"scenario: {self.scenario.name}"


class ScenarioCollector(pytest.File):
    def collect(self) -> Iterator[ScenarioItem]:
        for path in scenario_files(SCENARIO_DIR):
            scenario = load_scenario(path)
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == ANCHOR and file_path.parent.name == "scenarios":
        collector: pytest.Collector = ScenarioCollector.from_parent(parent, path=file_path)
        return collector
    return None
