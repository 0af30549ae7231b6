"""A steady working hour: opened, pushed, labelled and closed in the usual mix.

Run by `mayfly loadtest --scenario steady-hour`, or by hand against a running
webhook: `MAYFLY_WEBHOOK_SECRET=... locust -f loadtests/locustfiles/steady_hour.py
--host http://127.0.0.1:8080 --headless`.
"""

from __future__ import annotations

from typing import ClassVar

from loadtests.shapes import SteadyHour
from loadtests.users import WebhookUser

__all__ = ["Engineer", "SteadyHour"]


class Engineer(WebhookUser):
    weights: ClassVar[dict[str, int]] = {"open": 10, "push": 14, "label": 4, "close": 8}
