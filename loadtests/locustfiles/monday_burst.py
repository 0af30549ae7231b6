"""Monday morning: the weekend's work is opened at once, few pushes or merges yet.

Run by `mayfly loadtest --scenario monday-burst`, or by hand against a running
webhook: `MAYFLY_WEBHOOK_SECRET=... locust -f loadtests/locustfiles/monday_burst.py
--host http://127.0.0.1:8080 --headless`.
"""

from __future__ import annotations

from typing import ClassVar

from loadtests.shapes import MondayMorning
from loadtests.users import WebhookUser

__all__ = ["MondayEngineer", "MondayMorning"]


class MondayEngineer(WebhookUser):
    weights: ClassVar[dict[str, int]] = {"open": 30, "push": 8, "label": 3, "close": 3}
