"""Run settings handed from `mayfly loadtest` to Locust's processes through the environment.

Locust loads each locustfile by path in its own process(es); environment
variables are the one channel every worker sees. `from_env` gives defaults
fit for running a locustfile by hand (`locust -f ...`) against a webhook
started separately. No Locust imports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "MAYFLY_LOADTEST_"


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Knobs of one run (names map to MAYFLY_LOADTEST_<UPPER NAME>)."""

    secret_file: str = ""
    ledger_dir: str = "loadtest-report/ledger"
    users: int = 20  # peak users of the shape
    duration: float = 60.0  # seconds of load (the shape stops after it)
    spawn_rate: float = 20.0  # users started per second
    user_rps: float = 2.0  # deliveries per second per user
    seed: int = 1
    max_fail_ratio: float = 0.01  # unexpected failures / requests (expected 401s excluded)
    max_p99_ms: float = 1000.0  # 99th percentile of the last ~10 s, after warm-up
    warmup_s: float = 5.0  # no p99 rule before this many seconds
    compress: float = 600.0  # replay: simulated seconds per real second
    replay_start_h: float = 8.0  # replay: hours since Monday 00:00 where the replay starts
    params_file: str = ""  # replay: simulation parameter file (defaults if empty)
    number_base: int = 0  # PR numbers start above this (runs sharing a namespace)
    max_deliveries: int = 0  # stop each worker after this many genuine deliveries (0: no cap)
    redelivery_share: float = 0.05  # of all deliveries
    forged_share: float = 0.03  # of all deliveries

    def secret(self) -> bytes:
        if self.secret_file:
            return Path(self.secret_file).read_bytes().rstrip(b"\r\n")
        value = os.environ.get("MAYFLY_WEBHOOK_SECRET", "")
        if not value:
            raise RuntimeError(
                f"set {PREFIX}SECRET_FILE or MAYFLY_WEBHOOK_SECRET to the webhook's secret"
            )
        return value.encode()

    def to_env(self) -> dict[str, str]:
        return {PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


def from_env(env: dict[str, str] | None = None) -> RunSettings:
    source = os.environ if env is None else env
    values: dict[str, object] = {}
    for f in fields(RunSettings):
        raw = source.get(PREFIX + f.name.upper())
        if raw is None:
            continue
        kind = type(getattr(RunSettings(), f.name))
        values[f.name] = kind(raw)
    return RunSettings(**values)  # type: ignore[arg-type]
