"""Webhook intake at a constant rate (the intake benchmark): users x user_rps deliveries/s.

Run by `mayfly loadtest --scenario intake`, or by hand against a running
webhook: `MAYFLY_WEBHOOK_SECRET=... locust -f loadtests/locustfiles/intake.py
--host http://127.0.0.1:8080 --headless`.
"""

from __future__ import annotations

from typing import ClassVar

from loadtests.shapes import Burst
from loadtests.users import WebhookUser

__all__ = ["Burst", "Engineer"]


class Engineer(WebhookUser):
    weights: ClassVar[dict[str, int]] = {"open": 10, "push": 14, "label": 4, "close": 8}
