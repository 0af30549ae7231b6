"""One load-test run: system up, Locust headless, consistency check, summary.

`run(options)` starts the `Stack`, runs the scenario's locustfile as a
`locust --headless` subprocess (HTML report and CSV stats into the report
directory, settings through the environment), waits for it within a bound,
folds the per-worker ledgers, checks them against the API server (and, on
the cluster tier, waits for teardown and readiness), and returns a
`Summary`. It prints nothing; `cli` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from controller.devcluster import ControlPlane, Tier
from controller.devcluster.processes import ManagedProcess, spawn
from loadtests import consistency, ledger
from loadtests.fleet import load_fleet
from loadtests.settings import RunSettings
from loadtests.stack import Stack, StackOptions

LOCUSTFILES = Path(__file__).resolve().parent / "locustfiles"
SCENARIO_FILES = Path(__file__).resolve().parents[1] / "scenarios"


class ScenarioNotFoundError(ValueError):
    """Neither a locustfile nor a scenario file has this name."""


def scenarios() -> list[str]:
    """Names accepted by `--scenario`: the locustfiles, then the simulation's scenario files."""
    own = sorted(p.stem.replace("_", "-") for p in LOCUSTFILES.glob("*.py") if p.stem != "__init__")
    shared = (
        sorted(p.stem for p in SCENARIO_FILES.glob("*.yaml")) if SCENARIO_FILES.is_dir() else []
    )
    return own + [s for s in shared if s not in own]


@dataclass(frozen=True, slots=True)
class RunOptions:
    scenario: str = "steady-hour"
    report_dir: Path = Path("loadtest-report")
    tier: Tier = Tier.API
    settings: RunSettings = field(default_factory=RunSettings)
    processes: int = 1
    settle_s: float = 0.0
    stack: StackOptions = field(default_factory=StackOptions)


@dataclass(slots=True)
class Summary:
    scenario: str
    tier: str
    locustfile: str
    exit_code: int = 0
    locust_exit_code: int | None = None
    wall_s: float = 0.0
    load_s: float = 0.0
    stop_rules: list[dict[str, Any]] = field(default_factory=list)
    dead_components: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    deliveries_per_s: float = 0.0
    consistency: dict[str, Any] = field(default_factory=dict)
    report_dir: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def resolve(name: str, settings: RunSettings, workdir: Path) -> tuple[Path, RunSettings]:
    """The locustfile for `name`; a simulation scenario file runs `replay` with its workload."""
    own = LOCUSTFILES / f"{name.replace('-', '_')}.py"
    if own.is_file():
        return own, settings
    shared = SCENARIO_FILES / f"{name}.yaml"
    if not shared.is_file():
        raise ScenarioNotFoundError(
            f"unknown scenario {name!r}; choose one of: {', '.join(scenarios())}"
        )
    doc = yaml.safe_load(shared.read_text(encoding="utf-8")) or {}
    params = workdir / f"params-{name}.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    params.write_text(yaml.safe_dump(doc.get("overrides") or {}))
    seed = int(doc.get("seed", settings.seed))
    return LOCUSTFILES / "replay.py", replace(settings, params_file=str(params), seed=seed)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def locust_argv(locustfile: Path, url: str, report: Path, processes: int) -> list[str]:
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", url, "--html", str(report / "locust.html"), "--csv", str(report / "locust"),
        "--stop-timeout", "30", "--exit-code-on-error", "0", "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:
        argv += ["--processes", str(processes)]
    return argv


def run_locust(
    stack: Stack,
    locustfile: Path,
    settings: RunSettings,
    report: Path,
    *,
    processes: int = 1,
    tick: Callable[[float], None] | None = None,
    on_spawn: Callable[[ManagedProcess], None] | None = None,
) -> tuple[int | None, float, list[dict[str, Any]]]:
    """Run Locust headless against `stack` within a bound: (exit code, seconds, rule violations).

    The HTML report and CSV stats go to `report`; the ledger to `settings.ledger_dir`.
    `on_spawn` is told of the Locust process once started (a benchmark samples its CPU).
    """
    ledger_dir = Path(settings.ledger_dir)
    shutil.rmtree(ledger_dir, ignore_errors=True)
    settings = replace(settings, secret_file=str(stack.secret_file))
    env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
    env.pop("MAYFLY_WEBHOOK_SECRET", None)
    report.mkdir(parents=True, exist_ok=True)
    proc = spawn("locust", locust_argv(locustfile, stack.url, report, processes),
                 log=report / "locust.log", env=env)  # fmt: skip
    if on_spawn is not None:
        on_spawn(proc)
    bound = settings.duration + 90.0
    t0 = time.monotonic()
    while proc.alive() and time.monotonic() - t0 < bound:
        if tick is not None:
            tick(time.monotonic() - t0)
        time.sleep(0.5)
    violations: list[dict[str, Any]] = []
    if proc.alive():
        proc.stop(timeout=10.0)
        violations.append({"rule": "timeout", "detail": f"Locust ran over {bound:.0f} s"})
    assert proc.popen is not None
    code = proc.popen.wait(timeout=10)
    for path in sorted(ledger_dir.glob("stop-rules-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                violations.append(json.loads(line))
    return code, time.monotonic() - t0, violations


def verify(stack: Stack, entries: list[ledger.Entry], *, settle_s: float = 0.0) -> dict[str, Any]:
    """Fold `entries` and compare with the API server; the summary's `consistency` mapping."""
    folded = ledger.fold(entries)
    with contextlib.closing(stack.api_client()) as api:

        def fetch() -> list[dict[str, Any]]:
            return consistency.list_environments(api, stack.namespace)

        checked = consistency.check(folded, fetch())
        if settle_s > 0:
            consistency.settle(folded, fetch, timeout_s=settle_s, report=checked)
    return {
        "ok": checked.ok,
        "expected_prs": checked.expected_prs,
        "environments": checked.environments,
        "problems": checked.counts(),
        "examples": {k: v[:5] for k, v in checked.problems.items()},
        **checked.facts,
    }


def run(
    options: RunOptions,
    *,
    plane: ControlPlane | None = None,
    on_stack: Callable[[Stack], None] | None = None,
    tick: Callable[[float], None] | None = None,
) -> Summary:
    """Run one scenario end to end; never leaves a process behind.

    With `plane` (e.g. a pytest fixture's), that control plane is used and left running.
    """
    report = options.report_dir.resolve()
    report.mkdir(parents=True, exist_ok=True)
    ledger_dir = report / "ledger"
    locustfile, settings = resolve(options.scenario, options.settings, report)
    settings = replace(settings, ledger_dir=str(ledger_dir))
    summary = Summary(options.scenario, options.tier.value, locustfile.name, report_dir=str(report))
    started = time.monotonic()
    stack_opts = replace(options.stack, tier=options.tier)
    with Stack.start(report / "stack", load_fleet(), stack_opts, plane=plane) as stack:
        if on_stack is not None:
            on_stack(stack)
        code, load_s, violations = run_locust(
            stack, locustfile, settings, report, processes=options.processes, tick=tick
        )
        summary.locust_exit_code, summary.load_s = code, round(load_s, 1)
        summary.stop_rules = violations
        summary.dead_components = stack.check_alive()
        entries = ledger.read(ledger_dir) if ledger_dir.is_dir() else []
        tally(entries, summary)
        summary.consistency = verify(stack, entries, settle_s=options.settle_s)
    summary.wall_s = round(time.monotonic() - started, 1)
    five_xx = sum(n for status, n in summary.statuses.items() if status.startswith("5"))
    if five_xx and not any(r.get("rule") == "5xx" for r in summary.stop_rules):
        # with --processes, a worker's stop rule ends only that worker: the ledger decides
        summary.stop_rules.append({"rule": "5xx", "detail": f"{five_xx} answers with 5xx"})
    failed = (
        bool(summary.stop_rules)
        or bool(summary.dead_components)
        or not summary.consistency["ok"]
        or summary.locust_exit_code not in (0, None)
        or not entries
    )
    summary.exit_code = 1 if failed else 0
    (report / "summary.json").write_text(summary.to_json())
    return summary


def tally(entries: list[ledger.Entry], summary: Summary) -> None:
    """Counts, latency percentiles and rate of a run's ledger, into `summary`."""
    for e in entries:
        summary.sent[e.kind] = summary.sent.get(e.kind, 0) + 1
        summary.statuses[str(e.status)] = summary.statuses.get(str(e.status), 0) + 1
        label = f"{e.kind}:{e.result or e.status}"
        summary.results[label] = summary.results.get(label, 0) + 1
    lat = [e.latency_ms for e in entries if e.status]
    summary.latency_ms = {
        "p50": round(percentile(lat, 0.50), 1),
        "p95": round(percentile(lat, 0.95), 1),
        "p99": round(percentile(lat, 0.99), 1),
        "max": round(max(lat, default=0.0), 1),
    }
    if entries:
        span = max(entries[-1].t - entries[0].t, 1e-9)
        summary.deliveries_per_s = round(len(entries) / span, 1)
