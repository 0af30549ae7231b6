"""A burst of `opened` events only, capped at max_deliveries (the 500-environment benchmark).

Run by `mayfly loadtest --scenario burst-opened`, or by hand against a running
webhook: `MAYFLY_WEBHOOK_SECRET=... locust -f loadtests/locustfiles/burst_opened.py
--host http://127.0.0.1:8080 --headless`.
"""

from __future__ import annotations

from typing import ClassVar

from loadtests.shapes import Burst
from loadtests.users import WebhookUser

__all__ = ["Burst", "Opener"]


class Opener(WebhookUser):
    weights: ClassVar[dict[str, int]] = {"open": 1}
    extras = False
