"""The simulation's arrival profile (sim.workload.arrival_rate), compressed in time.

Run by `mayfly loadtest --scenario replay`, or by hand against a running
webhook: `MAYFLY_WEBHOOK_SECRET=... locust -f loadtests/locustfiles/replay.py
--host http://127.0.0.1:8080 --headless`.
"""

from __future__ import annotations

from typing import ClassVar

from loadtests.shapes import SimReplay
from loadtests.users import WebhookUser

__all__ = ["Engineer", "SimReplay"]


class Engineer(WebhookUser):
    weights: ClassVar[dict[str, int]] = {"open": 10, "push": 12, "label": 4, "close": 8}
