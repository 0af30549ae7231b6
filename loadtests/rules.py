"""Stop rules wired through Locust's events: any 5xx, too many failures, p99 too high.

`install(environment, settings)` adds a `request` listener (a 5xx stops the
run at once) and a watchdog greenlet (failure ratio, rolling p99 after the
warm-up), and a `quitting` listener that sets the exit code. Expected 401s
are reported as successes by the users, so they never count as failures.
Each violation is appended to `<ledger dir>/stop-rules-<pid>.jsonl` for the
runner's summary.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]

from loadtests.settings import RunSettings

MIN_REQUESTS = 100  # no ratio or percentile rule on fewer requests than this


class StopRules:
    def __init__(self, environment: Any, settings: RunSettings) -> None:
        self.env, self.s = environment, settings
        self.violations: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.path = Path(settings.ledger_dir) / f"stop-rules-{os.getpid()}.jsonl"

    def violate(self, rule: str, detail: str) -> None:
        record = {"t": time.time(), "rule": rule, "detail": detail}
        self.violations.append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        self.env.process_exit_code = 1
        if self.env.runner is not None:
            gevent.spawn_later(0, self.env.runner.quit)

    def on_request(self, name: str, response: Any = None, **_: Any) -> None:
        status = getattr(response, "status_code", 0) or 0
        if status >= 500 and not any(v["rule"] == "5xx" for v in self.violations):
            self.violate("5xx", f"{name} answered {status}")

    def check(self) -> None:
        total = self.env.stats.total
        if total.num_requests < MIN_REQUESTS or self.violations:
            return
        if total.fail_ratio > self.s.max_fail_ratio:
            self.violate(
                "failure-ratio",
                f"{total.fail_ratio:.4f} > {self.s.max_fail_ratio} "
                f"({total.num_failures}/{total.num_requests})",
            )
            return
        if time.monotonic() - self.started < self.s.warmup_s:
            return
        p99 = total.get_current_response_time_percentile(0.99)
        if p99 is not None and p99 > self.s.max_p99_ms:
            self.violate("p99", f"rolling p99 {p99:.0f} ms > {self.s.max_p99_ms:.0f} ms")

    def watch(self) -> None:
        while True:
            gevent.sleep(1.0)
            self.check()

    def on_quitting(self, environment: Any, **_: Any) -> None:
        self.check()
        total = environment.stats.total
        if total.num_requests >= MIN_REQUESTS and not self.violations:
            p99 = total.get_response_time_percentile(0.99)
            if p99 > self.s.max_p99_ms:
                self.violate("p99", f"run p99 {p99:.0f} ms > {self.s.max_p99_ms:.0f} ms")
        if self.violations:
            environment.process_exit_code = 1


def install(environment: Any, settings: RunSettings) -> StopRules:
    """Wire the rules into `environment` (call from an `events.init` listener)."""
    rules = StopRules(environment, settings)
    environment.events.request.add_listener(rules.on_request)
    environment.events.quitting.add_listener(rules.on_quitting)
    if environment.runner is not None and not _is_master(environment.runner):
        gevent.spawn(rules.watch)
    return rules


def _is_master(runner: Any) -> bool:
    return type(runner).__name__ == "MasterRunner"
