"""The Locust user: an engineer's repository sending signed `pull_request` deliveries.

`WebhookUser` is abstract; each locustfile subclasses it, sets task weights
(`weights`) and picks one load shape. Every delivery goes
to POST /github with `name=` grouping by action; the answer is checked
(genuine and redelivered: 200; forged: 401, counted as expected) and
appended to this worker's ledger. Each user sends `user_rps` deliveries a
second from a random phase of its period, so a step's users do not send in
lockstep. Per-worker PR numbers never collide:
each worker gets its own block of numbers.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

from controller.gctune import tune_for_serving
from loadtests import ledger, rules
from loadtests.developer import Delivery, Developer
from loadtests.fleet import Fleet, load_fleet
from loadtests.settings import RunSettings, from_env

NUMBER_BLOCK = 1_000_000
FORGED_BASE = 500_000  # forged PR numbers live in the upper half of a worker's block


class _Worker:
    """Per-process state shared by the users of one Locust worker."""

    settings: RunSettings
    fleet: Fleet
    secret: bytes
    writer: ledger.Writer
    numbers: Iterator[int]
    forged: Iterator[int]
    seeds: Iterator[int]
    genuine_sent = 0


_worker: _Worker | None = None


def _on_init(environment: Any, **_: Any) -> None:
    global _worker  # noqa: PLW0603  (one per process, built once Locust knows the worker)
    s = from_env()
    w = _Worker()
    w.settings, w.fleet, w.secret = s, load_fleet(), s.secret()
    index = getattr(environment.runner, "worker_index", 0) or 0
    base = 1 + s.number_base + index * NUMBER_BLOCK
    w.numbers = itertools.count(base)
    w.forged = itertools.count(base + FORGED_BASE)
    w.seeds = itertools.count(s.seed * 1_000_003 + index * 10_007)
    w.writer = ledger.Writer(Path(s.ledger_dir))
    _worker = w
    rules.install(environment, s)
    # A collector pause here is latency the ledger charges to the server: keep what
    # start-up built out of collections, and collect the young rarely (see the webhook's).
    tune_for_serving()


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]


def worker() -> _Worker:
    if _worker is None:
        raise RuntimeError("the loadtests users run only inside Locust (events.init not fired)")
    return _worker


class WebhookUser(FastHttpUser):
    """Sends an engineer's deliveries; subclasses weight the actions."""

    abstract = True
    # relative weights of the genuine actions; redeliveries and forgeries take the
    # settings' `redelivery_share` and `forged_share` of all deliveries (if `extras`)
    weights: ClassVar[dict[str, int]] = {"open": 10, "push": 12, "label": 4, "close": 8}
    extras: ClassVar[bool] = True
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        w = worker()
        self.dev = Developer(
            w.fleet,
            secret=w.secret,
            rng=random.Random(next(w.seeds)),
            numbers=w.numbers,
            forged_numbers=w.forged,
        )
        self.rng = self.dev.rng
        # Locust starts the users of one spawn step in the same instant. Paced from
        # there (as `constant_throughput` does, whose clock starts when the user is
        # made), all users of a step fire together once per period: the server sees
        # one burst a second instead of a steady rate. So each starts at a random phase.
        self.period = 1.0 / w.settings.user_rps if w.settings.user_rps > 0 else 0.0
        self.next_start = time.perf_counter() + self.rng.uniform(0.0, self.period)
        time.sleep(self.next_start - time.perf_counter())  # gevent-patched

    def wait_time(self) -> float:
        """Until this user's next slot: one delivery per period, from its own phase;
        a user that fell behind starts at once and keeps the new phase (no catching up)."""
        now = time.perf_counter()
        self.next_start = max(self.next_start + self.period, now)
        return self.next_start - now

    def _next_delivery(self) -> Delivery:
        s = worker().settings
        roll = self.rng.random() if self.extras else 1.0
        if roll < s.forged_share:
            return self.dev.forge()
        if roll < s.forged_share + s.redelivery_share:
            again = self.dev.redeliver()
            if again is not None:
                return again
        actions = [a for a in ("open", "push", "label", "close") if self.weights.get(a, 0) > 0]
        action = self.rng.choices(actions, [self.weights[a] for a in actions])[0]
        return getattr(self.dev, action)()  # type: ignore[no-any-return]

    @task
    def deliver(self) -> None:
        w = worker()
        if w.settings.max_deliveries and w.genuine_sent >= w.settings.max_deliveries:
            self.stop_sending()
            return
        self.send(self._next_delivery())

    def stop_sending(self) -> None:
        time.sleep(1.0)  # gevent-patched: idle until the shape ends the run

    def send(self, d: Delivery) -> None:
        w = worker()
        if d.kind == "genuine":
            w.genuine_sent += 1
        start = time.perf_counter()
        status, result = 0, ""
        with self.client.post(
            "/github",
            data=d.body,  # type: ignore[arg-type]
            headers=d.headers,
            name=d.name,
            catch_response=True,
        ) as resp:
            status = resp.status_code or 0
            result = _result(resp.text)
            if status == d.expect:
                resp.success()
            elif d.expect == 401:
                resp.failure(f"forged delivery answered {status}, not 401")
            else:
                resp.failure(f"{status} {result or resp.text[:120]}")
        w.writer.write(
            ledger.Entry(
                t=ledger.now(),
                delivery=d.delivery,
                kind=d.kind,
                action=d.action,
                repository=d.repository,
                number=d.number,
                head_sha=d.head_sha,
                status=status,
                result=result,
                latency_ms=(time.perf_counter() - start) * 1000,
                expect=d.expect,
            )
        )


def _result(text: str | None) -> str:
    try:
        data = json.loads(text or "")
    except ValueError:
        return ""
    return str(data.get("result", "")) if isinstance(data, dict) else ""
